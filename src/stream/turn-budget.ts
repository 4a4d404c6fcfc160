/**
 * @module stream/turn-budget
 * How much scanning the streams of this process may do in one turn of the
 * event loop before the rest waits for the next turn.
 *
 * Node runs every socket that became readable in one poll phase, one after
 * the other. Fifty streams of hostile text (long digit runs, each start a
 * possible card to check) each bring a read that costs milliseconds to
 * scan, so a single turn could take seconds, and the health check, new
 * connections and every other stream's bytes waited that long. Scanning
 * work is timed against one shared budget; once it is spent, a stream
 * defers its next piece with `setImmediate`, and a piece deferred while
 * the budget is still spent defers again, to the next turn. The budget is
 * renewed by a timer, which fires in the timers phase, before the next
 * poll: so every turn does at most about one budget of scanning, then I/O
 * gets its turn. Work is never dropped, only spread; a turn with less work
 * than the budget is not slowed at all.
 */

/** Milliseconds of scanning per turn (a health probe waits about this long at worst). */
const kTurnBudgetMs = 4

let spentMs = 0
let renewing = false

function renew (): void {
  spentMs = 0
  renewing = false
}

/** Whether this turn's budget is spent: the caller defers its work with `setImmediate`. */
export function budgetSpent (): boolean {
  return spentMs >= kTurnBudgetMs
}

/** Counts `ms` of scanning against this turn's budget. */
export function spend (ms: number): void {
  spentMs += ms
  if (renewing) return
  renewing = true
  // unref: a pending renewal must not keep a process alive.
  setTimeout(renew, 0).unref()
}
