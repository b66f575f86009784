/**
 * Work held to the end of the current turn of the event loop, when every request read in the
 * turn has been handled, in two stages: first what the turn's requests wait on (the replay
 * ledger's commit), then, once every promise that settled has run its callbacks, the turn's
 * answers (written to their sockets together, http/turn-writes.ts).
 *
 * The two stages are two setImmediate callbacks, queued together the first time a turn asks for
 * either. Node runs the immediates queued before its check phase in order and drains the
 * microtask queue between two of them: so the answers a commit settles are made before the write
 * stage runs, and go out in the same turn. Left to two unrelated setImmediate calls, the writes
 * could run first and those answers wait a whole turn more, behind the next turn's requests.
 */
export type TurnStage = 'commit' | 'write';

type Task = () => void;

let commits: Task[] = [];
let writes: Task[] = [];
let queued = false;

/** Runs `task` at the end of this turn, in `stage`; one added after its stage ran waits for the next turn's. */
export function atTurnEnd(stage: TurnStage, task: Task): void {
  if (stage === 'commit') commits.push(task);
  else writes.push(task);
  if (!queued) queue();
}

function queue(): void {
  queued = true;
  setImmediate(runCommits);
  setImmediate(runWrites);
}

function runCommits(): void {
  const due = commits;
  commits = [];
  for (const task of due) task();
}

function runWrites(): void {
  const due = writes;
  writes = [];
  queued = false;
  for (const task of due) task();
  // A commit asked for after its stage ran, or a write by a write task: the next turn's.
  if (!queued && (commits.length > 0 || writes.length > 0)) queue();
}
