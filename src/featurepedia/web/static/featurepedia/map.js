// The feature map: draws a source's features (from map.json) on a canvas, coloured by density or best
// score; hovering (or tapping) shows a feature's best explanation, clicking opens its page. Nearest-point
// lookups use a grid of cells, so moving over 5,000 points stays instant.
(function () {
  "use strict";
  var canvas = document.getElementById("fmap");
  if (!canvas) return;
  var tip = document.getElementById("map-tip");
  var select = document.getElementById("map-colour");
  var legend = document.getElementById("map-legend");
  var ctx = canvas.getContext("2d");
  var data = null, grid = null, hover = -1, PAD = 12, R = 3, CELL = 16;
  // Canvas pixels per CSS pixel: on a phone the 900-px canvas is drawn a third as wide, so points are drawn
  // larger and a tap finds the nearest point within about a fingertip (18 CSS px).
  function pxRatio() { var w = canvas.getBoundingClientRect().width; return w > 0 ? canvas.width / w : 1; }

  function viridis(t) { // a short perceptual ramp: dark blue -> teal -> yellow
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }
  function colour(p) {
    if (select.value === "score") {
      return p[4] === null ? "#c8c8c8" : viridis((p[4] - 0.5) / 0.5);
    }
    if (p[3] === null || p[3] <= 0) return "#c8c8c8";
    return viridis((Math.log10(p[3]) + 5) / 5); // 1e-5 .. 1
  }
  function xy(p) {
    return [PAD + p[1] * (canvas.width - 2 * PAD), PAD + (1 - p[2]) * (canvas.height - 2 * PAD)];
  }
  function buildGrid() {
    grid = {};
    data.points.forEach(function (p, i) {
      var c = xy(p), key = Math.floor(c[0] / CELL) + ":" + Math.floor(c[1] / CELL);
      (grid[key] = grid[key] || []).push(i);
    });
  }
  function nearest(mx, my) {
    var reach = Math.max(10, 18 * pxRatio()), best = -1, bestD = reach * reach;
    var cx = Math.floor(mx / CELL), cy = Math.floor(my / CELL), n = Math.ceil(reach / CELL);
    for (var dx = -n; dx <= n; dx++) for (var dy = -n; dy <= n; dy++) {
      (grid[(cx + dx) + ":" + (cy + dy)] || []).forEach(function (i) {
        var c = xy(data.points[i]), d = (c[0] - mx) * (c[0] - mx) + (c[1] - my) * (c[1] - my);
        if (d < bestD) { bestD = d; best = i; }
      });
    }
    return best;
  }
  function draw() {
    R = Math.max(3, 2.5 * pxRatio());
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    data.points.forEach(function (p, i) {
      var c = xy(p);
      ctx.fillStyle = colour(p);
      ctx.beginPath(); ctx.arc(c[0], c[1], i === hover ? R + 3 : R, 0, 2 * Math.PI); ctx.fill();
    });
    if (hover >= 0) {
      var c = xy(data.points[hover]);
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(c[0], c[1], R + 4, 0, 2 * Math.PI); ctx.stroke();
    }
    legend.textContent = select.value === "score"
      ? "dark: score 0.5 or less · yellow: 1.0 · grey: not scored (" + data.scorer + ")"
      : "dark: fires on 0.001% of tokens · yellow: on all · grey: never";
  }
  function show(i, mx, my) {
    hover = i;
    draw();
    if (i < 0) { tip.hidden = true; canvas.style.cursor = "default"; return; }
    var p = data.points[i], label = data.labels[String(p[0])];
    tip.textContent = "";
    var head = document.createElement("strong");
    head.textContent = data.noun + " " + p[0];
    tip.appendChild(head);
    tip.appendChild(document.createTextNode(label ? " — " + label : " — not explained yet"));
    var meta = document.createElement("div");
    meta.className = "small muted";
    meta.textContent = "density " + (p[3] === null ? "?" : (p[3] * 100).toPrecision(2) + "%") +
      (p[4] === null ? "" : " · score " + p[4].toFixed(2));
    tip.appendChild(meta);
    tip.hidden = false;
    var box = canvas.getBoundingClientRect(), scale = box.width / canvas.width;
    tip.style.left = Math.max(0, Math.min(box.width - 260, mx * scale + 12)) + "px";
    tip.style.top = (my * scale + 12) + "px";
    canvas.style.cursor = "pointer";
  }
  function local(ev) {
    var box = canvas.getBoundingClientRect(), scale = canvas.width / box.width;
    return [(ev.clientX - box.left) * scale, (ev.clientY - box.top) * scale];
  }
  // Hover is a mouse's: a tap's compatibility mouse events must not count as a first tap.
  canvas.addEventListener("pointermove", function (ev) {
    if (!data || ev.pointerType === "touch") return;
    var m = local(ev); show(nearest(m[0], m[1]), m[0], m[1]);
  });
  canvas.addEventListener("pointerleave", function (ev) { if (data && ev.pointerType !== "touch") show(-1, 0, 0); });
  // Whether the click comes from a finger: its pointerdown says so (a click's own pointerType is not always set).
  var touched = false;
  canvas.addEventListener("pointerdown", function (ev) { touched = ev.pointerType === "touch"; });
  canvas.addEventListener("touchstart", function () { touched = true; }, { passive: true });
  canvas.addEventListener("click", function (ev) {
    if (!data) return;
    var m = local(ev), i = nearest(m[0], m[1]);
    if (i < 0) return;
    if ((touched || ev.pointerType === "touch") && hover !== i) { show(i, m[0], m[1]); return; } // first tap: show
    window.location.href = canvas.dataset.base + data.points[i][0];
  });
  select.addEventListener("change", function () { if (data) draw(); });
  fetch(canvas.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
    if (!d.points) { legend.textContent = d.error || "no map"; return; }
    data = d; buildGrid(); draw();
    canvas.dataset.ready = String(d.points.length);
  });
})();
