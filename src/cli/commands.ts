// Every `catface` sub-command, in the order `catface --help` lists them.

import { align } from './align.js';
import type { Command } from './command.js';
import { degradeCommand } from './degrade.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { info } from './info.js';
import { lfwCommand } from './lfw.js';
import { reportCommand } from './report.js';
import { shipCommand } from './ship.js';
import { synth } from './synth.js';
import { trainCommand } from './train.js';

export const commands: Command[] = [
  info,
  degradeCommand,
  synth,
  trainCommand,
  demoCommand,
  align,
  lfwCommand,
  evalCommand,
  reportCommand,
  shipCommand,
];
