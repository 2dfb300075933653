// Every `catface` sub-command, in the order `catface --help` lists them.
import type { Command } from './command.js';
import { info } from './info.js';

export const commands: Command[] = [info];
