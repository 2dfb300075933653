// Every `catface` sub-command, in the order `catface --help` lists them.

import { ablateCommand } from './ablate.js';
import { align } from './align.js';
import { attributesCommand } from './attributes.js';
import type { Command } from './command.js';
import { degradeCommand } from './degrade.js';
import { demoCommand } from './demo.js';
import { detectCommand } from './detect.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { galleryCommand } from './gallery.js';
import { info } from './info.js';
import { lfwCommand } from './lfw.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { shipCommand } from './ship.js';
import { synth } from './synth.js';
import { trainCommand } from './train.js';
import { verifyCommand } from './verify.js';

export const commands: Command[] = [
  info,
  verifyCommand,
  embedCommand,
  attributesCommand,
  detectCommand,
  serveCommand,
  galleryCommand,
  degradeCommand,
  synth,
  trainCommand,
  demoCommand,
  ablateCommand,
  align,
  lfwCommand,
  evalCommand,
  reportCommand,
  shipCommand,
  exportCommand,
];
