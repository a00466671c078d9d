/**
 * Lock files: one process of a machine at a time holds the lock at a path. Knows nothing of tokens:
 * the file store takes one per key before it fetches.
 *
 * - A lock file holds the owner's pid, host, a nonce and the time (Clock), and is created exclusively
 *   and whole: a staging file (`wx`) gets the content and a modification time from the Clock, then is
 *   hard-linked to the lock's name (`link` never replaces: exclusive); where there are no hard links,
 *   `open` with `wx` in place. Its modification time is set again every `staleAfter / 3` while it is
 *   held (the heartbeat).
 * - A lock is stale when its owner is a process of this host that no longer exists (`process.kill(pid,
 *   0)` fails with ESRCH), or when its modification time is older than `staleAfter`. A stale lock is
 *   renamed aside (atomic: one taker wins), checked to be the very file that was judged stale (inode and
 *   content) and deleted; if it was not, it is linked back. Waiting polls with jittered backoff on the
 *   Clock (20 ms doubling to 250 ms). Release deletes the lock file only if it still holds our content.
 * - A lock file is read as the store reads a token file (no link followed, nothing but a regular file
 *   opened) and at most 4 KiB of it; one that is not a regular file of ours of at most 4 KiB (a FIFO, a
 *   device, a link, a directory, another user's file) is no lock of ours: taking it fails at once, and
 *   it is left as it is, not taken over (no process of ours made it, so no staleness applies), and
 *   whoever put it there is told, with the path, rather than have it vanish.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as os from "node:os"
import * as Files from "./fileStoreFiles.js"
import { nonce } from "./fileStoreNames.js"

/** Why a lock could not be taken. */
export class LockFailure extends Data.TaggedError("LockFailure")<{ readonly reason: string }> {}

/** @internal */
export interface Options {
  /** The lock file's path. */
  readonly file: string
  /** A new scratch path in the same directory, for a staging file or a stale lock moved aside. */
  readonly scratch: (kind: "new" | "stale") => string
}

/** @internal */
export interface LockFiles {
  /**
   * Takes the lock file, waiting (interruptibly) while someone else holds it; heartbeat while held, and
   * deleted (if still ours) when the scope closes.
   */
  readonly take: (options: Options) => Effect.Effect<void, LockFailure, Scope.Scope>
}

const fileMode = 0o600
const pollFirstMillis = 20
const pollMaxMillis = 250
/** A lock file holds some 150 bytes; one of more than this is not one of ours. */
const maxLockBytes = 4 * 1024

const { quote } = Files

/** What a lock file says about its owner. */
interface Owner {
  readonly pid: number
  readonly host: string
  /** When it took the lock, by its Clock (epoch ms), if the file says. */
  readonly acquiredAt: number | undefined
}

const parseOwner = (content: string): Owner | undefined => {
  try {
    const parsed: unknown = JSON.parse(content)
    if (
      typeof parsed === "object" && parsed !== null && "pid" in parsed && typeof parsed.pid === "number" &&
      "host" in parsed && typeof parsed.host === "string"
    ) {
      const acquiredAt = "acquiredAt" in parsed && typeof parsed.acquiredAt === "string"
        ? Option.getOrUndefined(Option.map(DateTime.make(parsed.acquiredAt), (t) => t.epochMillis))
        : undefined
      return { pid: parsed.pid, host: parsed.host, acquiredAt }
    }
  } catch {
    // an empty or foreign lock file: only its age counts
  }
  return undefined
}

/** Whether process `pid` of this host exists. ESRCH: it does not; EPERM: it does (another user's). */
export const isAlive = (pid: number): boolean => {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH")
  }
}

/** A lock file we created: its path and exact content. */
interface Held {
  readonly file: string
  readonly content: string
}

/** A lock file as read: its content, and its inode and modification time (of the file read). */
interface LockFile {
  readonly content: string
  readonly ino: number
  readonly mtimeMs: number
}

/** A lock file judged stale: what it was when judged, to check that we take over that one. */
interface Stale extends LockFile {
  readonly why: string
}

const failure = (what: string, file: string) => (error: Files.SystemFailure) =>
  new LockFailure({ reason: `cannot ${what} ${quote(file)} (${error.code})` })

const systemFailed = (error: Files.SystemFailure) =>
  new LockFailure({ reason: `cannot ${error.call} ${quote(error.file)} (${error.code})` })

/** @internal */
export const make = (staleAfter: Duration.Duration, files: Files.Access): LockFiles => {
  const staleAfterMillis = Duration.toMillis(staleAfter)
  const heartbeatEvery = Duration.millis(Math.max(1, Math.floor(staleAfterMillis / 3)))
  const host = os.hostname()
  const encoder = new TextEncoder()
  /** What is not UTF-8 is not ours, and is compared as it decodes. */
  const decoder = new TextDecoder("utf-8")

  /**
   * Creates the lock file if there is none: `Some` when it is ours. The lock file appears whole: its
   * content and its modification time (the Clock's, as the heartbeat sets it) are set on a staging
   * file, which is then hard-linked to the lock's name (`link` fails if the name exists: exclusive).
   * A file system without hard links gets the lock file created in place (`open` with `wx`).
   */
  const tryCreate = ({ file, scratch }: Options): Effect.Effect<Option.Option<Held>, LockFailure> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const content = `${
        JSON.stringify({ pid: process.pid, host, nonce: nonce(), acquiredAt: DateTime.unsafeMake(now).toJSON() })
      }\n`
      const bytes = encoder.encode(content)
      const inPlace = files.createExclusive(file, fileMode, bytes, false).pipe(
        Effect.tapError((error) => Files.isAlreadyExists(error) ? Effect.void : Effect.ignore(files.remove(file))),
        Effect.zipRight(Effect.ignore(files.utimes(file, now))),
        Effect.as(true),
        Effect.catchIf(Files.isAlreadyExists, () => Effect.succeed(false)),
        Effect.mapError(failure("create the lock file", file))
      )
      const staging = scratch("new")
      const linked = yield* files.createExclusive(staging, fileMode, bytes, false).pipe(
        Effect.zipRight(Effect.ignore(files.utimes(staging, now))),
        Effect.mapError(failure("create", staging)),
        Effect.zipRight(
          files.link(staging, file).pipe(
            Effect.as(true),
            Effect.catchAll((error) =>
              Files.isAlreadyExists(error)
                ? Effect.succeed(false)
                : Files.isNotFound(error)
                ? Effect.fail(failure("create the lock file", file)(error))
                : inPlace // no hard links here
            )
          )
        ),
        Effect.ensuring(Effect.ignore(files.remove(staging)))
      )
      return linked ? Option.some({ file, content }) : Option.none()
    })

  /** Reads a lock file: `None` when there is none; a `LockFailure` at once when it is not a lock of ours. */
  const readLock = (file: string): Effect.Effect<Option.Option<LockFile>, LockFailure> =>
    Effect.scoped(Effect.gen(function*() {
      const broken = (what: string, fix = `run: rm ${quote(file)}`) =>
        Effect.fail(
          new LockFailure({
            reason: `the lock file ${quote(file)} is ${what}, not a lock file of this store (a regular file of at ` +
              `most 4 KiB, of the user of this process); it is left as it is: ${fix}`
          })
        )
      const opened = yield* files.openRegular(file).pipe(
        Effect.catchTags({
          SystemFailure: (error) => Effect.fail(systemFailed(error)),
          NotRegular: (error) =>
            broken(
              Files.describeKind(error.kind),
              error.kind === "Directory" ? "move it out of the token directory" : undefined
            )
        })
      )
      if (Option.isNone(opened)) return Option.none()
      const { entry, readAtMost } = opened.value
      const owner = Files.foreignOwner(entry)
      if (owner !== undefined) return yield* broken(`owned by uid ${owner}`)
      if (entry.size > maxLockBytes) return yield* broken("larger than 4 KiB")
      const bytes = yield* readAtMost(maxLockBytes).pipe(Effect.mapError(systemFailed))
      if (Option.isNone(bytes)) return yield* broken("larger than 4 KiB")
      return Option.some({ content: decoder.decode(bytes.value), ino: entry.ino, mtimeMs: entry.mtimeMs })
    }))

  /** Looks at a lock file held by someone else: `undefined` if it is gone or alive, else why it is stale. */
  const inspect = (file: string): Effect.Effect<Stale | undefined, LockFailure> =>
    Effect.gen(function*() {
      const lock = yield* readLock(file)
      if (Option.isNone(lock)) return undefined
      const owner = parseOwner(lock.value.content)
      if (owner !== undefined && owner.host === host && !isAlive(owner.pid)) {
        return { ...lock.value, why: `its owner, process ${owner.pid}, is gone` }
      }
      // its last sign of life: the modification time the holder sets (creation, heartbeat), or the
      // time written in it if later
      const now = yield* Clock.currentTimeMillis
      const lastSeen = Math.max(lock.value.mtimeMs, owner?.acquiredAt ?? -Infinity)
      if (now - lastSeen > staleAfterMillis) {
        return { ...lock.value, why: `it was not refreshed for ${Duration.format(Duration.millis(now - lastSeen))}` }
      }
      return undefined
    })

  /**
   * Takes a stale lock file away: renames it aside (one taker wins), and deletes it if it is the one
   * judged stale; if someone took the lock in between, puts theirs back.
   */
  const takeOver = ({ file, scratch }: Options, stale: Stale): Effect.Effect<void, LockFailure> =>
    Effect.gen(function*() {
      // the lock may have been taken over and taken again since we looked: then it is not the one
      // judged stale, and moving it aside would take a live lock away from its holder (checked right
      // before the rename, which leaves a much smaller window than the look did; the check after the
      // rename catches the rest)
      const current = yield* files.lstat(file).pipe(Effect.option, Effect.map(Option.flatten))
      if (Option.isNone(current) || current.value.kind !== "File" || current.value.ino !== stale.ino) return
      const aside = scratch("stale")
      const moved = yield* files.rename(file, aside).pipe(
        Effect.as(true),
        Effect.catchIf(Files.isNotFound, () => Effect.succeed(false)),
        Effect.mapError(failure("move aside the stale lock file", file))
      )
      if (!moved) return
      const found = yield* readLock(aside).pipe(Effect.option, Effect.map(Option.flatten))
      if (Option.isSome(found) && found.value.content === stale.content && found.value.ino === stale.ino) {
        yield* Effect.logInfo(`token store lock ${quote(file)} recovered: ${stale.why}`)
      } else {
        // a fresh lock was taken between our look and the rename: give it back, unless yet another
        // one was created meanwhile (link never replaces)
        yield* files.link(aside, file).pipe(
          Effect.catchAll((error) => Files.isAlreadyExists(error) ? Effect.void : files.rename(aside, file)),
          Effect.ignore
        )
      }
      yield* Effect.ignore(files.remove(aside))
    })

  /** Takes the lock file, waiting (interruptibly, through `restore`) while someone else holds it. */
  const acquire = (
    options: Options,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ): Effect.Effect<Held, LockFailure> =>
    Effect.gen(function*() {
      let delay = pollFirstMillis
      while (true) {
        const held = yield* tryCreate(options)
        if (Option.isSome(held)) return held.value
        const stale = yield* inspect(options.file)
        if (stale !== undefined) {
          yield* takeOver(options, stale)
          continue
        }
        const jitter = yield* Random.nextRange(0.75, 1.25)
        yield* restore(Effect.sleep(Duration.millis(Math.round(delay * jitter))))
        delay = Math.min(delay * 2, pollMaxMillis)
      }
    })

  /**
   * Whether the lock file still holds our content (read as `readLock` reads, never following a link
   * nor blocking); if so and `touchAt` is given, sets its modification time, on the file read.
   */
  const stillOurs = (held: Held, touchAt?: number): Effect.Effect<boolean, Files.SystemFailure> =>
    Effect.scoped(Effect.gen(function*() {
      const opened = yield* files.openRegular(held.file).pipe(Effect.catchTag("NotRegular", () => Effect.succeedNone))
      if (Option.isNone(opened) || Files.foreignOwner(opened.value.entry) !== undefined) return false
      const bytes = yield* opened.value.readAtMost(maxLockBytes)
      if (Option.isNone(bytes) || decoder.decode(bytes.value) !== held.content) return false
      if (touchAt !== undefined) {
        // by path where a file opened for reading cannot be given a time (Windows)
        yield* opened.value.touch(touchAt).pipe(Effect.orElse(() => files.utimes(held.file, touchAt)), Effect.ignore)
      }
      return true
    }))

  const takenOver = (held: Held) =>
    Effect.logWarning(`token store lock ${quote(held.file)} was taken over by another process while held`)

  /** While the lock is held: refreshes its modification time, as long as it is still ours. */
  const heartbeat = (held: Held): Effect.Effect<void> =>
    Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(heartbeatEvery)
        const ours = yield* stillOurs(held, yield* Clock.currentTimeMillis).pipe(Effect.either)
        if (ours._tag === "Left") continue // cannot tell now: the next beat may
        if (!ours.right) return yield* takenOver(held)
      }
    }).pipe(Effect.catchAllDefect(() => Effect.void))

  /** Deletes the lock file if it is still ours; a failure is logged (the lock goes stale in time). */
  const release = (held: Held): Effect.Effect<void> =>
    Effect.gen(function*() {
      const ours = yield* stillOurs(held).pipe(Effect.either)
      if (ours._tag === "Left") {
        return yield* Effect.logWarning(
          `cannot read the token store lock ${quote(held.file)} (${ours.left.code}); it will be taken over once stale`
        )
      }
      if (!ours.right) return yield* takenOver(held)
      yield* files.remove(held.file).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(
            `cannot remove the token store lock ${quote(held.file)} (${error.code}); it will be taken over once stale`
          )
        )
      )
    }).pipe(Effect.catchAllDefect(() => Effect.void))

  return {
    take: (options) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const held = yield* acquire(options, restore)
          yield* Effect.addFinalizer(() => release(held))
          // interrupted (before the release above) when the scope closes
          yield* Effect.forkScoped(Effect.interruptible(heartbeat(held)))
        })
      )
  }
}
