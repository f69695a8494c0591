// Phones have no hover: tapping a clue's word shows it and its value (the title the catalog renders) below the clues.
document.addEventListener("click", (event) => {
  const tok = event.target.closest(".snippets span[title]");
  const readout = document.querySelector(".tok-readout");
  if (!tok || !readout) return;
  document.querySelectorAll(".snippets span.tapped").forEach((t) => t.classList.remove("tapped"));
  tok.classList.add("tapped");
  readout.textContent = "“" + tok.textContent + "”  " + tok.title;
});
