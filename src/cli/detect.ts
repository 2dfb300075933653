// `catface detect <photo> --out annotated.png`: the faces found in a photo, drawn (box, 5 landmarks, label).
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodePhoto } from '../data/decode.js';
import { writeFileDurably } from '../io/durable.js';
import { assertSeparate } from '../io/separate-paths.js';
import type { RecognizedFace } from '../serve/face-recognizer.js';
import { type Command, UsageError } from './command.js';
import { ALL_FACES_FLAG, formatBox, JSON_FLAG, openRecognizer, parsePhotoArgs, RECOGNIZER_USAGE, table } from './photos.js';

const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** An SVG overlay of the faces: box, landmarks (eyes, nose, mouth corners) and a label above the box. */
export function annotationSvg(width: number, height: number, faces: RecognizedFace[], attributes: string[]): string {
  const stroke = Math.max(1, Math.round(Math.max(width, height) / 300));
  const font = Math.max(10, Math.round(Math.max(width, height) / 40));
  const colours = ['#00e676', '#29b6f6', '#ffca28', '#ef5350', '#ab47bc'];
  const parts = faces.map((f, i) => {
    const [x, y, w, h] = f.box;
    const colour = colours[i % colours.length];
    const label = [
      `#${i + 1} ${f.score.toFixed(2)}`,
      `q ${f.quality.toFixed(1)}`,
      ...attributes.slice(0, 1).map((a) => `${a} ${f.attributes[a].toFixed(2)}`),
    ];
    const points = f.landmarks.map(
      ([px, py]) =>
        `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="${stroke * 1.5}" fill="${colour}" stroke="black" stroke-width="${stroke / 2}"/>`,
    );
    const ty = y - stroke * 2 > font ? y - stroke * 2 : y + h + font;
    return [
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`,
      ...points,
      `<text x="${x.toFixed(1)}" y="${ty.toFixed(1)}" font-family="sans-serif" font-size="${font}" fill="${colour}" stroke="black" stroke-width="${stroke / 3}" paint-order="stroke">${escapeXml(label.join(' · '))}</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

export const detectCommand: Command = {
  name: 'detect',
  summary: 'find the faces in a photo and draw them (box, landmarks, score, quality, attributes) into a PNG',
  usage: [
    'catface detect <photo> [--out annotated.png] [--all-faces] [--json] [--model DIR]',
    '',
    'Detects faces and their 5 landmarks, runs the model on each, prints one row per face (box, detection',
    'score, quality, attributes; --json: one JSON object) and with --out draws them onto the upright photo.',
    '',
    '  --out FILE.png        the annotated photo',
    '  --all-faces           every face (default: the largest)',
    '  --json                JSON instead of the table',
    ...RECOGNIZER_USAGE,
  ].join('\n'),
  async run(argv) {
    const { values, positionals } = parsePhotoArgs(argv, { ...ALL_FACES_FLAG, ...JSON_FLAG, out: { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError('expected one photo');
    const [path] = positionals;
    if (values.out) assertSeparate([{ role: '--out', path: values.out }], [{ role: 'the photo', path }]);
    const recognizer = await openRecognizer(values);
    try {
      const analysis = await recognizer.analyze(path, { allFaces: values['all-faces'] });
      const names = recognizer.spec.attributes;
      if (values.out) {
        const { full } = await decodePhoto(await readFile(path), path);
        const svg = annotationSvg(full.width, full.height, analysis.faces, names);
        const png = await sharp(full.data, { raw: { width: full.width, height: full.height, channels: 3 } })
          .composite([{ input: Buffer.from(svg) }])
          .removeAlpha()
          .png()
          .toBuffer();
        writeFileDurably(values.out, png);
      }
      if (values.json) {
        const faces = analysis.faces.map(({ box, landmarks, score, quality, attributes }) => ({
          box,
          landmarks,
          score,
          quality,
          attributes,
        }));
        console.log(JSON.stringify({ file: path, width: analysis.width, height: analysis.height, faces }));
      } else {
        console.log(
          `${path}: ${analysis.width}×${analysis.height}, ${analysis.faces.length} face(s)${values.out ? ` → ${values.out}` : ''}`,
        );
        if (analysis.faces.length > 0)
          console.log(
            table(
              ['face', 'box', 'score', 'quality', ...names],
              analysis.faces.map((f, i) => [
                `#${i + 1}`,
                formatBox(f.box),
                f.score.toFixed(2),
                f.quality.toFixed(2),
                ...names.map((n) => f.attributes[n].toFixed(2)),
              ]),
            ),
          );
      }
      if (analysis.faces.length === 0) {
        console.error(`${path}: no face found`);
        return 1;
      }
      return 0;
    } finally {
      await recognizer.close();
    }
  },
};
