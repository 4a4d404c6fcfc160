/**
 * @module audit/file-sink
 * The audit file as a synchronous, append-only sink that can be rotated.
 *
 * Every `write()` is a `write(2)` on a file opened with O_APPEND before it
 * returns, so a record that was reported has reached the kernel: a process
 * killed with SIGKILL has lost nothing it reported. With `fsync` each write
 * is also flushed to the device (milliseconds each), to survive power loss.
 *
 * Why not pino's SonicBoom here (stdout still uses it): rotation must swap
 * files between two records, synchronously, knowing that every byte owed to
 * the old file is in it. SonicBoom reopens asynchronously, and its
 * `flushSync()` retries a failing write (ENOSPC, EIO) forever in a sleep
 * loop. Here a failed write is reported to `onError` and its bytes are kept
 * and written first at the next write or flush — the order of the file
 * still follows the chain — and the caller can see that bytes are owed
 * (`pendingBytes`) before it rotates.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

export interface FileSinkOptions {
  /** fsync after each write. */
  fsync: boolean
  /** A write or fsync failed; the bytes are kept and retried. */
  onError: (err: Error) => void
}

export interface FileSink {
  /** Bytes in the current file, bytes still owed to it included. */
  readonly size: number
  /** Bytes that failed to be written and will be written before anything newer. */
  readonly pendingBytes: number
  /** Appends `data` (UTF-8) now, after any bytes still owed. */
  write(data: string): void
  /** Writes the bytes still owed and fsyncs; false if some are still owed. */
  flush(): boolean
  /** Opens `path` anew (the caller renamed the old file) and closes the old descriptor. Throws if the open fails. */
  reopen(): void
  /** Flushes and closes. Writes after this are errors. */
  close(): void
}

function openAppend (path: string): number {
  mkdirSync(dirname(path), { recursive: true })
  // 0600: the audit log says which rules fired on whose requests.
  return openSync(path, 'a', 0o600)
}

/** Opens (creating it and its directory) the file at `path` for appending. */
export function createFileSink (path: string, options: FileSinkOptions): FileSink {
  const { fsync, onError } = options
  let fd = openAppend(path)
  let written = fstatSync(fd).size
  let pending: Buffer[] = []
  let pendingBytes = 0
  let closed = false

  /** Writes what is owed; false (after reporting) when a write fails. */
  function drain (): boolean {
    while (pending.length > 0) {
      const buf = pending[0]!
      let n: number
      try {
        n = writeSync(fd, buf)
      } catch (err) {
        onError(err as Error)
        return false
      }
      written += n
      pendingBytes -= n
      if (n < buf.length) pending[0] = buf.subarray(n)
      else pending.shift()
    }
    return true
  }

  function sync (): void {
    try {
      fsyncSync(fd)
    } catch (err) {
      onError(err as Error)
    }
  }

  return {
    get size () { return written + pendingBytes },
    get pendingBytes () { return pendingBytes },

    write: function writeLine (data) {
      if (closed) {
        onError(new Error('audit file sink is closed'))
        return
      }
      const buf = Buffer.from(data, 'utf8')
      pending.push(buf)
      pendingBytes += buf.length
      if (drain() && fsync) sync()
    },

    flush: function flushSink () {
      if (closed) return pendingBytes === 0
      const ok = drain()
      sync()
      return ok
    },

    reopen: function reopenSink () {
      // Open first: if it fails, the old descriptor still works.
      const next = openAppend(path)
      const old = fd
      fd = next
      written = fstatSync(fd).size
      try {
        closeSync(old)
      } catch (err) {
        onError(err as Error)
      }
    },

    close: function closeSink () {
      if (closed) return
      drain()
      sync()
      closed = true
      try {
        closeSync(fd)
      } catch (err) {
        onError(err as Error)
      }
      // Bytes still owed are lost with the descriptor; they were reported.
      pending = []
      pendingBytes = 0
    }
  }
}
