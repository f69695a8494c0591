// Phones have no hover: tapping a clue's word shows its value (the title the catalog renders) below the clues.
document.addEventListener("click", (event) => {
  const tok = event.target.closest(".snippets .tok[title]");
  const readout = document.querySelector(".tok-readout");
  if (!tok || !readout) return;
  document.querySelectorAll(".snippets .tok.tapped").forEach((t) => t.classList.remove("tapped"));
  tok.classList.add("tapped");
  readout.textContent = tok.title;
});
