// Behaviour shared by every page, kept out of the markup (the content security policy forbids inline
// handlers): a field marked data-select-on-focus selects its whole text when focused, ready to copy.
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) field.select();
});
