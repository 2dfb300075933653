// Child-process entry of `catface ablate`: runs one unit (`node unit-main.js <dir>/unit.json`). It exits when
// the runner goes away (the IPC channel closes), so a killed runner leaves no run behind to race a resumed one.
import { runUnit } from './unit.js';

process.on('disconnect', () => process.exit(130));
const file = process.argv[2];
if (!file) {
  console.error('usage: unit-main.js <unit.json>');
  process.exit(2);
}
runUnit(file).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
