/* Monitor tab: the hourly bar charts (SVG, no library), as trayproxy.chart.draw(svg, hours,
 * series, fmt, noun): stacked bars per hour bucket, a rounded scale, hour labels every 6 hours
 * and a tooltip per hour. Loaded before monitor.js.
 */
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const { t, fmt } = window.tpI18n;

  function svgEl(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
    for (const c of children) if (c) el.append(c);
    return el;
  }

  function niceMax(v) {
    if (v <= 4) return 4;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p; // the half-way line stays a round number
    return 10 * p;
  }

  function hourLabel(ts) { return fmt.clock(ts); }

  /* A stacked bar chart of hourly buckets. series: [{key, cls, label}]; axis formats axis values;
     none is what an empty chart says. */
  function draw(svg, hours, series, axis, none) {
    const W = 420, H = 150, L = 38, R = 6, T = 10, B = 22;
    const plotW = W - L - R, plotH = H - T - B;
    const totals = hours.map((b) => series.reduce((s, x) => s + (b[x.key] || 0), 0));
    const max = niceMax(Math.max(0, ...totals));
    const y = (v) => T + plotH - (v / max) * plotH;
    const nodes = [];
    const empty = !totals.some(Boolean);
    for (const f of empty ? [0] : [0, 0.5, 1]) {
      const yy = y(max * f);
      nodes.push(svgEl("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: f === 0 ? "axis" : "grid" }));
      const label = svgEl("text", { x: L - 6, y: yy + 3.5, class: "ylabel", "text-anchor": "end" });
      label.textContent = axis(max * f);
      nodes.push(label);
    }
    const slot = plotW / hours.length, bw = Math.max(2, slot * 0.72);
    hours.forEach((b, i) => {
      const x = L + i * slot + (slot - bw) / 2;
      const g = svgEl("g", { class: "hour" });
      const title = svgEl("title");
      const parts = series.map((s) => t("{label}: {count}", { label: s.label, count: fmt.number(b[s.key] || 0) })).join(", ");
      title.textContent = `${hourLabel(b.hour_ts)}–${hourLabel(b.hour_ts + 3600)}: ${parts}`;
      g.append(title, svgEl("rect", { x: L + i * slot, y: T, width: slot, height: plotH, class: "hit" }));
      let base = 0;
      for (const s of series) {
        const v = b[s.key] || 0;
        if (!v) continue;
        const top = y(base + v), bottom = y(base);
        const hgt = Math.max(1.5, bottom - top);
        g.append(svgEl("rect", { x, y: bottom - hgt, width: bw, height: hgt, rx: 1.5, class: "col " + s.cls }));
        base += v;
      }
      nodes.push(g);
      if (i % 6 === 0 || i === hours.length - 1) {
        const label = svgEl("text", { x: L + i * slot + slot / 2, y: H - 6, class: "xlabel", "text-anchor": i === hours.length - 1 ? "end" : "middle" });
        label.textContent = i === hours.length - 1 ? t("now") : hourLabel(b.hour_ts);
        if (i === hours.length - 1) label.setAttribute("x", W - R);
        nodes.push(label);
      }
    });
    if (empty) {
      const label = svgEl("text", { x: L + plotW / 2, y: T + plotH / 2, class: "nodata", "text-anchor": "middle" });
      label.textContent = none;
      nodes.push(label);
    }
    svg.replaceChildren(...nodes);
  }

  window.trayproxy.chart = { draw };
})();
