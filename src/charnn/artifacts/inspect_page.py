"""`charnn inspect`'s page: one self-contained HTML file drawn from the report's plain data.

Styles and script are inline and the numbers are embedded as JSON, so the page works opened
from disk and asks no network for anything. The script draws:

- a language model's text, each character coloured by its surprisal (white: expected, deep
  red: 8 bits or more); hovering or focusing one shows the five likeliest characters there and
  the actual one's rank; under it, one lane per hidden unit, each character tinted by the unit's
  output (blue below zero, orange above); and the lines ranked by bits per character;
- a classifier's texts, each with a strip charting its likeliest labels' probabilities after
  every character, and the final top labels.
"""

from __future__ import annotations

import html
import json
from typing import Any

STYLE = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 2em; color: #222; max-width: 72em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.note { color: #555; } .cap { background: #fff4d6; padding: .3em .6em; border-radius: 4px; }
.text, .lane { font: 13px/1.9 ui-monospace, monospace; white-space: pre-wrap;
  word-break: break-all; }
.c { cursor: default; border-radius: 2px; outline: none; }
.c:hover, .c:focus { box-shadow: 0 0 0 2px #333; }
#tip { position: fixed; display: none; background: #fff; border: 1px solid #999; padding: .4em .6em;
  font: 12px/1.4 ui-monospace, monospace; box-shadow: 0 2px 6px #0003; pointer-events: none; }
.lane-name { font-size: 12px; color: #444; margin-top: .8em; }
table { border-collapse: collapse; } td, th { padding: .15em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.strip { margin: 1em 0 2em; } .strip svg { border: 1px solid #ddd; background: #fafafa; }
.legend span { display: inline-block; margin-right: 1em; }
"""

SCRIPT = """
const report = JSON.parse(document.getElementById('report').textContent);
const root = document.getElementById('root');
const tip = document.getElementById('tip');
function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function shown(c) { return c === '\\n' ? '\\u21b5\\n' : c; }
function printable(c) { return c === '\\n' ? '\\\\n' : c === ' ' ? '\\u2423' : c; }
function heat(bits) {
  const x = Math.min(bits / 8, 1);
  return `rgb(255, ${Math.round(255 - 190 * x)}, ${Math.round(255 - 210 * x)})`;
}
function tint(v, scale) {
  const x = Math.max(-1, Math.min(1, v / scale));
  return x < 0 ? `rgba(40, 110, 220, ${-x})` : `rgba(240, 140, 20, ${x})`;
}
function showTip(event, lines) {
  tip.textContent = '';
  for (const line of lines) tip.appendChild(el('div', {}, line));
  const box = event.target.getBoundingClientRect();
  tip.style.left = `${box.left}px`; tip.style.top = `${box.bottom + 4}px`;
  tip.style.display = 'block';
}
function hideTip() { tip.style.display = 'none'; }
function languageModel() {
  root.appendChild(el('p', {}, `${report.bits_per_char.toFixed(4)} bits per character over ` +
    `${report.scored} predicted characters (the first has no prediction).`));
  const text = el('div', {class: 'text', id: 'text'});
  report.chars.forEach((c, i) => {
    const span = el('span', {class: 'c', tabindex: '0', 'data-i': i}, shown(c.char));
    if (c.bits !== null) {
      span.style.background = heat(c.bits);
      const lines = [`'${printable(c.char)}': ${c.bits.toFixed(2)} bits, rank ${c.rank}`];
      for (const [t, p] of c.top) lines.push(`${printable(t).padEnd(3)} ${(100 * p).toFixed(1)}%`);
      const show = (e) => showTip(e, lines);
      span.addEventListener('mouseenter', show); span.addEventListener('focus', show);
      span.addEventListener('mouseleave', hideTip); span.addEventListener('blur', hideTip);
    }
    text.appendChild(span);
  });
  root.appendChild(el('h2', {}, 'Surprisal'));
  root.appendChild(el('p', {class: 'legend'}, 'white: expected; deep red: 8 bits or more. ' +
    'Hover or focus a character for the five likeliest there.'));
  root.appendChild(text);
  root.appendChild(el('h2', {}, `Hidden units: ${report.units.how}`));
  root.appendChild(el('p', {class: 'note'}, `${report.units.layer}; blue below zero, orange ` +
    'above.'));
  for (const lane of report.units.lanes) {
    const scale = Math.max(...lane.values.map(Math.abs), 1e-6);
    root.appendChild(el('div', {class: 'lane-name'},
      `unit ${lane.unit} (score ${lane.score.toFixed(3)})`));
    const row = el('div', {class: 'lane', 'data-unit': lane.unit});
    report.chars.forEach((c, i) => {
      const span = el('span', {class: 'c'}, shown(c.char));
      span.style.background = tint(lane.values[i], scale);
      row.appendChild(span);
    });
    root.appendChild(row);
  }
  if (report.lines) {
    root.appendChild(el('h2', {}, 'Lines, most surprising first'));
    const table = el('table', {id: 'lines'});
    table.appendChild(el('tr', {}, '')).innerHTML = '<th>line</th><th>bits/char</th><th>text</th>';
    for (const row of report.lines.slice(0, 50)) {
      const tr = el('tr');
      tr.appendChild(el('td', {class: 'num'}, row.line));
      tr.appendChild(el('td', {class: 'num'}, row.bits_per_char.toFixed(3)));
      tr.appendChild(el('td', {class: 'text'}, row.text));
      table.appendChild(tr);
    }
    root.appendChild(table);
  }
}
const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e'];
function classifier() {
  for (const item of report.texts) {
    const box = el('div', {class: 'strip'});
    box.appendChild(el('div', {class: 'text'}, item.text));
    const names = Object.keys(item.curves);
    const steps = item.curves[names[0]].length;
    const width = Math.max(240, Math.min(900, steps * 14)), height = 120;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', width); svg.setAttribute('height', height);
    names.forEach((name, k) => {
      const points = item.curves[name].map((p, i) =>
        `${(steps > 1 ? i / (steps - 1) : 0.5) * (width - 10) + 5},${(1 - p) * (height - 10) + 5}`);
      const line = document.createElementNS(ns, 'polyline');
      line.setAttribute('points', points.join(' '));
      line.setAttribute('fill', 'none'); line.setAttribute('stroke', COLOURS[k % 5]);
      line.setAttribute('stroke-width', '2');
      svg.appendChild(line);
    });
    box.appendChild(svg);
    const legend = el('div', {class: 'legend'});
    item.top.forEach(([label, p], k) => {
      const span = el('span', {}, `${label} ${(100 * p).toFixed(1)}%`);
      span.style.color = COLOURS[k % 5];
      legend.appendChild(span);
    });
    legend.appendChild(el('span', {class: 'note'},
      `decided after ${item.decided_at + 1} of ${item.shown_chars} characters`));
    box.appendChild(legend);
    root.appendChild(box);
  }
}
if (report.kind === 'lm') languageModel(); else classifier();
"""


def render_page(report: dict[str, Any], *, title: str) -> str:
    """The report as one HTML page that needs nothing but itself."""
    data = json.dumps(report, ensure_ascii=False).replace("</", "<\\/")
    notes = []
    if report.get("shown_chars", 0) < report.get("total_chars", 0):
        notes.append(
            f"Showing the first {report['shown_chars']:,} of {report['total_chars']:,} characters."
        )
    if report.get("shown_texts", 0) < report.get("total_texts", 0):
        notes.append(f"Showing {report['shown_texts']:,} of {report['total_texts']:,} texts.")
    cap = "".join(f'<p class="cap">{html.escape(note)}</p>' for note in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>{cap}<div id="root"></div><div id="tip"></div>
<script type="application/json" id="report">{data}</script>
<script>{SCRIPT}</script></body></html>
"""
