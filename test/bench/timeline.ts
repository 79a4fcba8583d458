// Draws one swap from the supervisor's event log as an SVG: markers for the swap, its detection,
// the fence and the wave, and a row per gateway with its stop and its spawn -> ready bar. A narrow
// panel magnifies the first milliseconds, where detection and fence happen; a wide one shows the wave.

export interface TimelineEvent {
  type: string;
  ts_ms: number;
  [field: string]: unknown;
}

export interface TimelineInput {
  title: string;
  subtitle: string;
  /** The moment of the rename (epoch ms on the supervisor's clock). */
  at: number;
  events: TimelineEvent[];
  /** Gateways in the fleet; those never fenced get a "kept running" row. */
  profiles: string[];
}

const WIDTH = 960;
const LABEL_W = 150;
const ZOOM = { x: 160, w: 240 };
const WAVE = { x: 440, w: 500 };
const TOP = 64;
const BOARD_ROW = 54;
const ROW = 26;
const COLORS = { stop: '#e8912d', start: '#4a7fd6', run: '#3f9b4b', swap: '#111', detect: '#d43d3d', fence: '#8a44c4', sidecars: '#888', wave: '#1b8a8a' };

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A generous estimate of a 12px sans-serif label's width. */
const textWidth = (text: string) => text.length * 6.6;
const fmt = (ms: number) => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));

/** 1, 2 or 5 times a power of ten, at least `raw`. */
export function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-6)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

interface Panel {
  x: number;
  w: number;
  span: number;
  id: string;
}

const px = (panel: Panel, ms: number) => panel.x + (Math.max(0, ms) / panel.span) * panel.w;

function axis(panel: Panel, y: number): string {
  const step = niceStep(panel.span / 5);
  const parts = [`<line x1="${panel.x}" y1="${y}" x2="${panel.x + panel.w}" y2="${y}" stroke="#444"/>`];
  for (let t = 0; t <= panel.span + 1e-9; t += step) {
    const x = px(panel, t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${y + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  return parts.join('');
}

export function timelineSvg(input: TimelineInput): string {
  const rel = (e: TimelineEvent) => e.ts_ms - input.at;
  const first = (type: string) => input.events.find((e) => e.type === type);
  const swap = first('board.swap');
  const fence = first('board.fence');
  const sidecars = first('board.sidecars');
  const waveStart = first('wave.start');
  const waveDone = first('wave.done');
  const fenced = new Set((fence?.profiles as string[] | undefined) ?? []);
  const end = waveDone ? rel(waveDone) : Math.max(0, ...input.events.map(rel));
  // The zoom panel covers detection, fence and the stops, up to the wave's start.
  const stops = input.events.filter((e) => e.type === 'gateway.exit' && (!waveStart || e.ts_ms < waveStart.ts_ms));
  const early = Math.max(...[swap, fence, sidecars, ...stops].filter((e): e is TimelineEvent => e !== undefined).map(rel), 1);
  const zoom: Panel = { ...ZOOM, span: niceStep(early * 1.4), id: 'zoom' };
  const wave: Panel = { ...WAVE, span: niceStep(end / 8) * Math.ceil((end * 1.04) / niceStep(end / 8)), id: 'wave' };
  const rows = [...input.profiles];
  const height = TOP + BOARD_ROW + rows.length * ROW + 80;
  const axisY = TOP + BOARD_ROW + rows.length * ROW + 8;

  const markers = [
    { ms: 0, label: 'rename', color: COLORS.swap },
    swap && { ms: rel(swap), label: `detected (${String(swap.detected_by)})`, color: COLORS.detect },
    fence && { ms: rel(fence), label: `fence: SIGSTOP ${fenced.size}`, color: COLORS.fence },
    sidecars && { ms: rel(sidecars), label: 'old -wal/-shm moved', color: COLORS.sidecars },
    waveStart && { ms: rel(waveStart), label: 'wave.start', color: COLORS.wave },
    waveDone && { ms: rel(waveDone), label: 'wave.done', color: COLORS.wave },
  ].filter((m): m is { ms: number; label: string; color: string } => Boolean(m));

  const body: string[] = [];
  const labels: string[] = [];
  for (const panel of [zoom, wave]) {
    const inner: string[] = [];
    const rowsBottom = TOP + BOARD_ROW + rows.length * ROW;
    markers.forEach((m, i) => {
      if (m.ms > panel.span) return;
      const x = px(panel, m.ms).toFixed(1);
      inner.push(`<line x1="${x}" y1="${TOP}" x2="${x}" y2="${rowsBottom}" stroke="${m.color}" stroke-dasharray="3,3"/>`);
      // In each panel only the markers that are apart get labels; the zoom panel labels the early ones.
      // Labels are drawn unclipped, reading leftwards where they would run past the panel.
      const labelled = panel === zoom ? m.ms <= early : m.ms > early;
      if (labelled) {
        const line = panel === zoom ? i % 4 : i % 2;
        const text = `${m.label} +${fmt(m.ms)} ms`;
        const leftwards = Number(x) + 3 + textWidth(text) > panel.x + panel.w + (panel === zoom ? 30 : 0);
        const anchor = leftwards ? ` text-anchor="end"` : '';
        const tx = (Number(x) + (leftwards ? -3 : 3)).toFixed(1);
        labels.push(`<text x="${tx}" y="${TOP + 12 + line * 12}" fill="${m.color}"${anchor} stroke="#fff" stroke-width="3" paint-order="stroke">${esc(text)}</text>`);
      }
    });
    rows.forEach((profile, i) => {
      const y = TOP + BOARD_ROW + i * ROW + ROW / 2;
      const mine = input.events.filter((e) => e.profile === profile);
      const exit = mine.find((e) => e.type === 'gateway.exit');
      const spawn = mine.find((e) => e.type === 'gateway.spawn');
      const ready = mine.find((e) => e.type === 'gateway.ready');
      const bar = (from: number, to: number, color: string, h: number, title: string) => {
        const x1 = px(panel, from);
        const x2 = Math.max(px(panel, Math.min(to, panel.span * 2)), x1 + 1.5);
        inner.push(`<rect x="${x1.toFixed(1)}" y="${(y - h / 2).toFixed(1)}" width="${(x2 - x1).toFixed(1)}" height="${h}" fill="${color}"><title>${esc(title)}</title></rect>`);
      };
      if (!fenced.has(profile)) {
        bar(0, panel.span * 2, COLORS.run, 3, `${profile}: kept running`);
        return;
      }
      bar(0, rel(fence!), COLORS.run, 3, `${profile}: running on the old file`);
      if (exit) bar(rel(fence!), rel(exit), COLORS.stop, 12, `${profile}: fenced -> exit ${fmt(rel(exit))} ms`);
      if (exit && panel === zoom && rel(exit) <= panel.span) {
        const signal = exit.signal ? ` ${String(exit.signal)}` : '';
        labels.push(`<text x="${(px(panel, rel(exit)) + 4).toFixed(1)}" y="${y + 4}" fill="#555" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke">exit +${fmt(rel(exit))} ms${esc(signal)}</text>`);
      }
      if (exit && spawn) inner.push(`<line x1="${px(panel, rel(exit)).toFixed(1)}" y1="${y}" x2="${px(panel, rel(spawn)).toFixed(1)}" y2="${y}" stroke="#bbb" stroke-dasharray="2,3"/>`);
      if (spawn) bar(rel(spawn), ready ? rel(ready) : end, COLORS.start, 12, `${profile}: spawn +${fmt(rel(spawn))} -> ready +${ready ? fmt(rel(ready)) : '?'} ms`);
      if (ready) bar(rel(ready), panel.span * 2, COLORS.run, 3, `${profile}: running on the new file`);
    });
    body.push(`<clipPath id="clip-${panel.id}"><rect x="${panel.x}" y="${TOP - 2}" width="${panel.w + 1}" height="${rowsBottom - TOP + 4}"/></clipPath>`);
    body.push(`<g clip-path="url(#clip-${panel.id})">${inner.join('')}</g>`, ...labels.splice(0));
    body.push(`<rect x="${panel.x}" y="${TOP}" width="${panel.w}" height="${rowsBottom - TOP}" fill="none" stroke="#ccc"/>`);
    body.push(axis(panel, axisY));
    body.push(`<text x="${panel.x + panel.w / 2}" y="${axisY + 32}" text-anchor="middle">ms after the rename${panel === zoom ? ' (first ' + fmt(panel.span) + ' ms)' : ''}</text>`);
  }

  const names = [`<text x="${LABEL_W}" y="${TOP + 16}" text-anchor="end" font-weight="bold">board</text>`];
  rows.forEach((profile, i) => {
    const y = TOP + BOARD_ROW + i * ROW + ROW / 2 + 4;
    const note = fenced.has(profile) ? '' : ' (not fenced)';
    names.push(`<text x="${LABEL_W}" y="${y}" text-anchor="end">${esc(profile + note)}</text>`);
  });
  const legendY = height - 12;
  let legendX = 20;
  const legend = [
    [COLORS.stop, 'fenced, stopping (SIGSTOP, then SIGCONT + SIGTERM)'],
    [COLORS.start, 'spawned, until ready_after'],
    [COLORS.run, 'running'],
  ]
    .map(([color, text]) => {
      const item = `<rect x="${legendX}" y="${legendY - 10}" width="14" height="10" fill="${color}"/><text x="${legendX + 20}" y="${legendY}">${esc(text!)}</text>`;
      legendX += 20 + textWidth(text!) + 30;
      return item;
    })
    .join('');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="20" y="22" font-size="15" font-weight="bold">${esc(input.title)}</text>`,
    `<text x="20" y="42" fill="#555">${esc(input.subtitle)}</text>`,
    ...names,
    ...body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
