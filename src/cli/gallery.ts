// `catface gallery`: look at, export and import a service's gallery file (stop the service first for import).
import { parseArgs } from 'node:util';
import { Gallery } from '../serve/gallery.js';
import { exportGallery, importGallery } from '../serve/gallery-transfer.js';
import { type Command, UsageError } from './command.js';

export const galleryCommand: Command = {
  name: 'gallery',
  summary: 'show, export or import a serve gallery (SQLite ↔ safetensors + JSON)',
  usage: [
    'catface gallery info --gallery FILE',
    'catface gallery export --gallery FILE --out DIR',
    'catface gallery import --gallery FILE --from DIR',
    '',
    'export writes DIR/gallery.json (model fingerprint, identities with metadata, one entry per face) and',
    'DIR/embeddings.safetensors (`embeddings` [faces, D] float32, in the JSON face order). import replaces the',
    "gallery's whole content with an export, in one transaction.",
  ].join('\n'),
  run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { gallery: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' } },
    });
    const [action] = positionals;
    if (!values.gallery) throw new UsageError('--gallery FILE is required');
    if (action !== 'info' && action !== 'export' && action !== 'import')
      throw new UsageError(`expected info, export or import, got '${action ?? ''}'`);
    const gallery = Gallery.open(values.gallery);
    try {
      if (action === 'export') {
        if (!values.out) throw new UsageError('export needs --out DIR');
        const n = exportGallery(gallery, values.out);
        console.log(`exported ${n.identities} identities and ${n.faces} faces to ${values.out}`);
      } else if (action === 'import') {
        if (!values.from) throw new UsageError('import needs --from DIR');
        const n = importGallery(gallery, values.from);
        console.log(`imported ${n.identities} identities and ${n.faces} faces into ${values.gallery}`);
      } else {
        const model = gallery.model;
        console.log(`${values.gallery}: ${gallery.identityCount} identities, ${gallery.faceCount} faces`);
        console.log(model ? `model ${model.fingerprint} (${model.dim}-d embeddings)` : 'no enrolment yet (no model recorded)');
        console.log(`integrity ${gallery.integrityCheck()}`);
      }
    } finally {
      gallery.close();
    }
    return 0;
  },
};
