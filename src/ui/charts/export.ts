// A chart on the page as a file: its SVG (recharts draws one) with the legend, title and a
// white background written into it, standalone; or that SVG rasterized to PNG at 2×.

import { esc } from '../report-html.ts';

/** The chart inside `figure` as a standalone SVG document. */
export function chartSvg(figure: Element, title: string): { svg: string; width: number; height: number } {
  const surface = figure.querySelector('svg.recharts-surface');
  if (!surface) throw new Error(`the ${title} chart has nothing drawn yet`);
  const box = surface.getBoundingClientRect();
  const w = Math.max(1, Math.round(box.width));
  const h = Math.max(1, Math.round(box.height));
  const items = [...figure.querySelectorAll('.chart-legend li')].map((li) => {
    const mark = li.querySelector<HTMLElement>('.line, .swatch');
    const color = mark ? getComputedStyle(mark).borderTopColor !== 'rgba(0, 0, 0, 0)' && mark.classList.contains('line') ? getComputedStyle(mark).borderTopColor : getComputedStyle(mark).backgroundColor : '#5b6472';
    return { text: li.textContent?.trim() ?? '', color, dashed: !!mark?.classList.contains('dashed') };
  });
  const head = 24;
  const legendH = 16 * items.length + (items.length ? 8 : 0);
  const clone = surface.cloneNode(true);
  if (!(clone instanceof SVGElement)) throw new Error('not an SVG');
  clone.setAttribute('x', '0');
  clone.setAttribute('y', String(head));
  const inner = new XMLSerializer().serializeToString(clone);
  const legend = items
    .map((it, i) => {
      const y = head + h + 14 + 16 * i;
      return `<line x1="8" x2="26" y1="${y - 4}" y2="${y - 4}" stroke="${it.color}" stroke-width="3"${it.dashed ? ' stroke-dasharray="5 4"' : ''}/><text x="32" y="${y}" fill="#1d2430">${esc(it.text)}</text>`;
    })
    .join('');
  const H = head + h + legendH;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${H}" viewBox="0 0 ${w} ${H}" font-family="system-ui, sans-serif" font-size="12"><title>${esc(title)}</title><rect width="100%" height="100%" fill="#fff"/><text x="8" y="16" font-size="13" font-weight="600" fill="#1d2430">${esc(title)}</text>${inner}${legend}</svg>`;
  return { svg, width: w, height: H };
}

/** An SVG document drawn into a PNG (scale × its size). */
export async function svgToPng(svg: string, width: number, height: number, scale = 2): Promise<Uint8Array> {
  const img = new Image();
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('the chart could not be drawn as an image'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas in this browser');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, width, height);
    const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/png'));
    if (!blob) throw new Error('the PNG could not be written');
    return new Uint8Array(await blob.arrayBuffer());
  } finally {
    URL.revokeObjectURL(url);
  }
}
