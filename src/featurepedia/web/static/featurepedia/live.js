// Marks the max of the visitor's text on the feature's activation histogram, after htmx swaps the result in.
// The histogram's data-lo / data-hi are the values at its edges; a value past them sits at the edge.
document.addEventListener("htmx:afterSettle", () => {
  const result = document.querySelector("[data-hist-mark]");
  const svg = document.querySelector("svg.hist");
  if (!result || !svg) return;
  const ns = "http://www.w3.org/2000/svg", box = svg.viewBox.baseVal;
  const lo = Number(svg.dataset.lo), hi = Number(svg.dataset.hi), value = Number(result.dataset.histMark);
  const x = Math.max(1, Math.min(box.width - 1, ((value - lo) / (hi - lo)) * box.width));
  let mark = svg.querySelector("g.mark");
  if (!mark) {
    mark = svg.appendChild(document.createElementNS(ns, "g"));
    mark.setAttribute("class", "mark");
    mark.append(document.createElementNS(ns, "line"), document.createElementNS(ns, "text"));
  }
  const [line, label] = mark.children;
  Object.entries({x1: x, x2: x, y1: 12, y2: box.height - 20}).forEach(([k, v]) => line.setAttribute(k, v));
  label.setAttribute("x", x); label.setAttribute("y", 10);
  label.setAttribute("text-anchor", x > box.width * 0.7 ? "end" : "start");
  label.textContent = "your text: " + value.toPrecision(3);
});
