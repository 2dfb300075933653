// Every `catface` sub-command, in the order `catface --help` lists them.
import type { Command } from './command.js';
import { info } from './info.js';
import { synth } from './synth.js';

export const commands: Command[] = [info, synth];
