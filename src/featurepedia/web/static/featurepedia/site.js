// Behaviour shared by every page, kept out of the markup (the content security policy forbids inline
// handlers): a field marked data-select-on-focus selects its whole text when focused, ready to copy.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) field.select();
});
// Phones have no hover: tapping (or clicking) a clue's word shows it and its value, the title the catalog
// renders, in the page's .tok-readout, or in a small box at the bottom of the screen on pages without one.
// A tap elsewhere clears that box.
document.addEventListener("click", (event) => {
  const tok = event.target instanceof Element ? event.target.closest(".ctx span[title]") : null;
  let readout = document.querySelector(".tok-readout");
  if (!tok) {
    if (readout && readout.classList.contains("float")) readout.textContent = "";
    return;
  }
  if (!readout) {
    readout = document.createElement("p");
    readout.className = "tok-readout float small";
    readout.setAttribute("aria-live", "polite");
    document.body.appendChild(readout);
  }
  document.querySelectorAll(".ctx span.tapped").forEach((t) => t.classList.remove("tapped"));
  tok.classList.add("tapped");
  readout.textContent = "“" + tok.textContent + "”  " + tok.title;
});
// The phone's header menu is a <details> and works without this; Escape, or a tap outside it, closes it.
document.addEventListener("keydown", (event) => {
  const menu = document.querySelector(".site-menu[open]");
  if (event.key === "Escape" && menu) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
document.addEventListener("click", (event) => {
  const menu = document.querySelector(".site-menu[open]");
  if (menu && event.target instanceof Node && !menu.contains(event.target)) menu.open = false;
});
