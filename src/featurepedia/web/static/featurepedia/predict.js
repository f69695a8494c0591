// Predict pages (progressive enhancement; the forms work without it): count the marked words, shade a
// token by its slider, show a token's true value on tap (phones have no hover), copy the daily's result.
for (const form of document.querySelectorAll("form[data-predict]")) {
  const count = form.querySelector(".pcount");
  const update = () => {
    let marked = 0;
    for (const box of form.querySelectorAll("input[type=checkbox]")) if (box.checked) marked++;
    for (const range of form.querySelectorAll("input[type=range]")) {
      const value = Number(range.value), token = range.closest(".ptok");
      if (value > 0) marked++;
      for (const name of [...token.classList]) if (/^lvl\d+$/.test(name)) token.classList.remove(name);
      if (value > 0) token.classList.add("lvl" + value);
    }
    if (count) count.textContent = marked === 1 ? "1 word marked" : marked + " words marked";
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}

for (const text of document.querySelectorAll(".ptext.result")) {
  const info = text.querySelector(".tapinfo");
  text.addEventListener("click", (event) => {
    const token = event.target.closest("button.ptok");
    if (!token || !info) return;
    for (const other of text.querySelectorAll("button.ptok[aria-pressed=true]")) other.setAttribute("aria-pressed", "false");
    token.setAttribute("aria-pressed", "true");
    const mark = Number(token.dataset.mark);
    info.textContent = "“" + token.textContent + "”: activation " + token.dataset.value +
      (mark > 0 ? " · you marked it " + mark : " · you did not mark it");
  });
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.value);
      button.textContent = "Copied!";
    } catch {
      source.select();
      button.textContent = "Selected: copy it";
    }
  });
}
