// Small live line charts on <canvas>: the last minute of one figure, newest on the right.
// Used by the player's stats overlay (overlay.js) and the operator page (admin.js).
"use strict";

(() => {
  const POINTS = 60;

  class Chart {
    constructor(canvas, { label, unit, color = "#4cf", digits = 0 }) {
      this.canvas = canvas;
      this.label = label;
      this.unit = unit;
      this.color = color;
      this.digits = digits;
      this.values = [];
      // Not drawn yet: a chart in a hidden panel (the player's overlay) costs nothing
      // until shown. Drawing four canvases while the player page loads held back its
      // signaling socket by 17-93 ms on a busy machine (docs/performance.md).
    }

    push(value) {
      this.values.push(Number.isFinite(value) ? value : null);
      if (this.values.length > POINTS) this.values.shift();
      if (!this.canvas.closest("[hidden]")) this.draw();
    }

    latest() {
      const v = this.values[this.values.length - 1];
      return v === null || v === undefined ? "–" : v.toFixed(this.digits);
    }

    draw() {
      const { canvas } = this;
      const ctx = canvas.getContext("2d");
      const w = canvas.width;
      const h = canvas.height;
      const top = 16;
      ctx.clearRect(0, 0, w, h);
      ctx.fillStyle = "#000a";
      ctx.fillRect(0, 0, w, h);
      const known = this.values.filter((v) => v !== null);
      const max = Math.max(1e-9, ...known) * 1.15;
      ctx.strokeStyle = "#fff2";
      ctx.beginPath();
      ctx.moveTo(0, h - 0.5);
      ctx.lineTo(w, h - 0.5);
      ctx.stroke();
      ctx.strokeStyle = this.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      this.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        const x = w - (this.values.length - 1 - i) * (w / (POINTS - 1));
        const y = h - (v / max) * (h - top);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
      ctx.fillStyle = "#ddd";
      ctx.font = "11px system-ui, sans-serif";
      ctx.textBaseline = "top";
      ctx.fillText(`${this.label} ${this.latest()} ${this.unit}`, 4, 2);
      ctx.textAlign = "right";
      ctx.fillStyle = "#888";
      ctx.fillText(`max ${(max / 1.15).toFixed(this.digits)}`, w - 4, 2);
      ctx.textAlign = "left";
    }
  }

  window.AetherCharts = { Chart, POINTS };
})();
