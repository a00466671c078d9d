/**
 * The file token store: one JSON file per key in a private directory, written atomically, and one lock
 * file per key.
 *
 * - Names: `<slug>-<hash>.json`, where the slug is the key's letters, digits, `.`, `_` and `-` (the rest
 *   as `_`, at most 64 characters; of a grant key, the values without names nor URL schemes) and the
 *   hash the first 16 hex digits of its SHA-256, so that any key
 *   (slashes, `..`, unicode, a megabyte) gives a short, readable name with no path separator, in time
 *   linear in its length, and keys that slug alike still get different files (`fileStoreNames.ts`).
 * - Modes and owners: files 0600 in a directory of 0700 (created, with its parents, if missing). A
 *   token file or a directory that group or others can access is refused (`StoreError` with the
 *   `chmod` that fixes it), as ssh refuses a private key: the content may be fine, so it is not
 *   `Corrupted`. Not on Windows. So is one owned by another user than this process's (`getuid`; not
 *   where there is none), and one that is a symbolic link (as ssh and gpg refuse them): whoever owns
 *   the file, or the link, chooses the token. The directory is checked with `lstat` (and `stat`, through
 *   the `FileSystem`); the token file is opened with `O_NOFOLLOW | O_NONBLOCK` after an `lstat` (a FIFO
 *   or a device is never opened), and its type, owner and mode are those `fstat` gives of the file
 *   opened (`fileStoreFiles.ts`: `node:fs`, which the `FileSystem` does not offer).
 * - Writes: a temporary file in the same directory (`wx`: `O_CREAT | O_EXCL`, which fails on any
 *   existing name, a link included, so it never writes through one; 0600), written, fsynced, closed,
 *   then renamed over the token file (`rename` replaces a link there, never its target), and the
 *   directory fsynced: a reader sees the old file or the new one, never half of one, even if the
 *   writer is killed. `remove` unlinks: a link is removed, not what it points to.
 * - Scratch files (the temporary file of a write, the staging file of a lock, a stale lock moved aside)
 *   are named `.<slug>-<hash>.<host>.<pid>.<nonce>.<kind>` (`host`: 8 hex digits of the host name's
 *   SHA-256). A process killed between creating one and renaming or deleting it leaves it behind; each
 *   save deletes the key's scratch files of processes of this host that no longer exist, so a killed
 *   command-line tool leaves nothing that lasts.
 * - Lock: `<slug>-<hash>.lock`, holding the owner's pid, host, a nonce and the time (Clock), created
 *   exclusively and whole: a staging file (`wx`) gets the content and a modification time from the
 *   Clock, then is hard-linked to the lock's name (`link` never replaces: exclusive); where there are
 *   no hard links, `open` with `wx` in place. Its modification time is set again every
 *   `staleAfter / 3` while it is held (the heartbeat). A lock is stale when its owner is a process of
 *   this host that no longer exists (`process.kill(pid, 0)` fails with ESRCH), or when its
 *   modification time is older than `staleAfter`. A stale lock is renamed aside (atomic: one taker wins),
 *   checked to be the very file that was judged stale (inode and content) and deleted; if it was not,
 *   it is linked back. Waiting polls with jittered backoff on the Clock (20 ms doubling to 250 ms).
 *   Release deletes the lock file only if it still holds our content. Within one process a per-key
 *   semaphore comes first, so fibers of one process do not poll each other. A lock file is read as a
 *   token file is (no link followed, nothing but a regular file opened) and at most 4 KiB of it; one
 *   that is not a regular file of ours of at most 4 KiB (a FIFO, a device, a link, a directory,
 *   another user's file) is no lock of this store: `withLock` fails at once, and the service fetches
 *   without the lock. It is left as it is, not taken over: no process of this store made it, so no
 *   staleness applies, and whoever put it there (this user or root: the directory is ours, 0700) is
 *   told, with the path, rather than have it vanish; a fleet loses its single fetch until it is
 *   removed, and says so on each fetch.
 *
 * Every failure is a `StoreError` (with the operation and the path) or `NotCached` / `Corrupted`,
 * never a defect; the content of a file never appears in an error.
 *
 * @internal
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as os from "node:os"
import * as path from "node:path"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type { FileOptions, Service } from "../TokenStore.js"
import * as Files from "./fileStoreFiles.js"
import { fileName, lockName, nonce, scratchName, scratchPrefix } from "./fileStoreNames.js"
import * as KeyedSemaphore from "./keyedSemaphore.js"
import { allOrNothing } from "./storeLock.js"

/** @internal */
export const defaultStaleAfter: Duration.Duration = Duration.seconds(10)

const fileMode = 0o600
const directoryMode = 0o700
const pollFirstMillis = 20
const pollMaxMillis = 250
const maxFileBytes = 1024 * 1024
/** A lock file holds some 150 bytes; one of more than this is not one of ours. */
const maxLockBytes = 4 * 1024

// -----------------------------------------------------------------------------
// names, modes, owners
// -----------------------------------------------------------------------------

export {
  /** @internal */
  fileName
} from "./fileStoreNames.js"

/** A path in single quotes, for a shell command in an error message. */
const quote = (file: string): string => `'${file.replace(/'/g, "'\\''")}'`

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, "0")

const checksModes = process.platform !== "win32"

const tooOpen = (mode: number): boolean => checksModes && (mode & 0o077) !== 0

/**
 * Why a file or directory owned by another user is not trusted, and what fixes it. Whoever owns a
 * token file or the directory can put there a token of their choosing (or read it), as another user's
 * `~/.ssh` could hold a key of theirs: ssh and gpg refuse those too.
 */
const notOurs = (what: string, file: string, uid: number): string =>
  `${what} ${quote(file)} is owned by uid ${uid}, not by uid ${Files.ownUid} (the user of this process), ` +
  `and is not trusted: if it is yours, run: chown ${Files.ownUid} ${quote(file)}; else remove it`

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

type Operation = TokenError.StoreError["operation"]

/** The error code (`EACCES`, `ENOSPC`...) of a file system error, or its kind. */
const errorCode = (error: PlatformError.PlatformError): string => {
  if (error._tag === "BadArgument") return "bad argument"
  const cause: unknown = error.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") {
    return cause.code
  }
  return error.reason
}

const isNotFound = (error: PlatformError.PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "NotFound"

const isAlreadyExists = (error: PlatformError.PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "AlreadyExists"

const storeError = (key: string, operation: Operation, reason: string): TokenError.StoreError =>
  new TokenError.StoreError({ key, operation, reason })

const failed =
  (key: string, operation: Operation, what: string, file: string) => (error: PlatformError.PlatformError) =>
    storeError(key, operation, `cannot ${what} ${quote(file)} (${errorCode(error)})`)

/** A failed `lstat`, `open`, `fstat`, `read`, `futimes` of `node:fs`. */
const systemFailed = (key: string, operation: Operation) => (error: Files.SystemFailure): TokenError.StoreError =>
  storeError(key, operation, `cannot ${error.call} ${quote(error.file)} (${error.code})`)

/** What kind of defect it was, without its message. */
const describeDefect = (defect: unknown): string =>
  typeof defect === "object" && defect !== null && "_tag" in defect && defect._tag === "SystemError"
    ? errorCode(defect as PlatformError.PlatformError)
    : defect instanceof Error
    ? defect.name
    : typeof defect

/** A defect in a store operation (a failing `close`, a bug) is a `StoreError` too. */
const noDefects = (key: string, operation: Operation) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllDefect(
    effect,
    (defect) => Effect.fail(storeError(key, operation, `unexpected failure (${describeDefect(defect)})`))
  )

// -----------------------------------------------------------------------------
// locks
// -----------------------------------------------------------------------------

/** A lock file we created: its path and exact content. */
interface Held {
  readonly key: string
  readonly file: string
  readonly content: string
}

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
const isAlive = (pid: number): boolean => {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH")
  }
}

/** A lock file judged stale: what it was when judged, to check that we take over that one. */
interface Stale {
  readonly content: string
  readonly ino: number
  readonly why: string
}

/** A lock file as read: its content, and its inode and modification time (of the file read). */
interface LockFile {
  readonly content: string
  readonly ino: number
  readonly mtimeMs: number
}

// -----------------------------------------------------------------------------
// the store
// -----------------------------------------------------------------------------

/** @internal */
export const make = (options: FileOptions): Effect.Effect<Service, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = path.resolve(options.directory)
    const staleAfter = Duration.decode(options.staleAfter ?? defaultStaleAfter)
    if (!Duration.isFinite(staleAfter) || Duration.toMillis(staleAfter) <= 0) {
      return yield* Effect.dieMessage("TokenStore.layerFile: staleAfter must be finite and positive")
    }
    const staleAfterMillis = Duration.toMillis(staleAfter)
    const heartbeatEvery = Duration.millis(Math.max(1, Math.floor(staleAfterMillis / 3)))
    const host = os.hostname()
    const encoder = new TextEncoder()
    const decoder = new TextDecoder("utf-8", { fatal: true })
    /** Lock files: what is not UTF-8 is not ours, and is compared as it decodes. */
    const lockDecoder = new TextDecoder("utf-8")
    const decodeStored = Schema.decodeUnknown(Token.TokenFromStored)

    const tokenFile = (key: string) => path.join(directory, fileName(key))
    const lockFile = (key: string) => path.join(directory, lockName(key))

    /**
     * Checks the directory: a directory of its own (not a symbolic link to one), owned by the user of
     * this process and accessible by that user only. When it is missing, creates it (with its parents,
     * 0700) if `create`, checks it again, and answers whether it exists.
     */
    const checkDirectory = (
      key: string,
      operation: Operation,
      create: boolean
    ): Effect.Effect<boolean, TokenError.StoreError> =>
      Effect.gen(function*() {
        const check = Effect.gen(function*() {
          // `stat` (through the FileSystem, as every other operation) follows a link, `lstat` does
          // not: both, so that the directory reached is the entry itself
          const reached = yield* fs.stat(directory).pipe(
            Effect.map(Option.some),
            Effect.catchIf(isNotFound, () => Effect.succeedNone),
            Effect.mapError(failed(key, operation, "read the token directory", directory))
          )
          const entry = yield* Files.lstat(directory).pipe(Effect.mapError(systemFailed(key, operation)))
          if (Option.isSome(entry) && entry.value.kind === "SymbolicLink") {
            return yield* Effect.fail(storeError(
              key,
              operation,
              `the token directory ${quote(directory)} is a symbolic link: it must be a directory of its own, ` +
                `not reached through a link, which whoever can change the link can point elsewhere ` +
                `(give the store the directory the link points to)`
            ))
          }
          if (Option.isNone(reached) || Option.isNone(entry)) return false
          if (entry.value.kind !== "Directory" || reached.value.type !== "Directory") {
            return yield* Effect.fail(
              storeError(key, operation, `the token directory ${quote(directory)} is not a directory`)
            )
          }
          const owner = Files.foreignOwner(entry.value)
          if (owner !== undefined) {
            return yield* Effect.fail(storeError(key, operation, notOurs("the token directory", directory, owner)))
          }
          if (tooOpen(entry.value.mode)) {
            return yield* Effect.fail(storeError(
              key,
              operation,
              `permissions ${octal(entry.value.mode)} for ${quote(directory)} are too open: the token directory ` +
                `must not be accessible by group or others; run: chmod 700 ${quote(directory)}`
            ))
          }
          return true
        })
        if (yield* check) return true
        if (!create) return false
        yield* fs.makeDirectory(directory, { recursive: true, mode: directoryMode }).pipe(
          Effect.mapError(failed(key, operation, "create the token directory", directory))
        )
        // someone may have made it first, and not as we would have
        return yield* check
      })

    /** fsync of the directory, so that a rename survives a power cut; not every platform can. */
    const syncDirectory: Effect.Effect<void> = Effect.scoped(
      Effect.flatMap(fs.open(directory, { flag: "r" }), (handle) => handle.sync)
    ).pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))

    // -------------------------------------------------------------------------
    // load
    // -------------------------------------------------------------------------

    /**
     * The bytes of a token file of our own: a regular file (never a link followed, nor a FIFO opened),
     * owned by the user of this process, accessible by that user only.
     */
    const readPrivate = (
      key: string,
      file: string
    ): Effect.Effect<Uint8Array, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError> =>
      Effect.scoped(Effect.gen(function*() {
        const opened = yield* Files.openRegular(file).pipe(
          Effect.catchTags({
            SystemFailure: (error) => Effect.fail(systemFailed(key, "load")(error)),
            NotRegular: (error) =>
              Effect.fail(storeError(
                key,
                "load",
                error.kind === "SymbolicLink"
                  ? `${quote(file)} is not a regular file but a symbolic link: a token file is never read ` +
                    `through a link (whoever can change the link chooses the token); run: rm ${quote(file)}`
                  : `${quote(file)} is not a regular file (${Files.describeKind(error.kind)})`
              ))
          })
        )
        if (Option.isNone(opened)) return yield* Effect.fail(new TokenError.NotCached({ key }))
        // checked on the file opened (fstat): the owner and mode of the very file read
        const info = opened.value.entry
        const owner = Files.foreignOwner(info)
        if (owner !== undefined) {
          return yield* Effect.fail(storeError(key, "load", notOurs("the token file", file, owner)))
        }
        if (tooOpen(info.mode)) {
          return yield* Effect.fail(storeError(
            key,
            "load",
            `permissions ${octal(info.mode)} for ${quote(file)} are too open: the token file must not be ` +
              `accessible by group or others; run: chmod 600 ${quote(file)}`
          ))
        }
        const tooLarge = new TokenError.Corrupted({
          key,
          path: file,
          reason: "larger than a token file can be (1 MiB)"
        })
        if (info.size > maxFileBytes) return yield* Effect.fail(tooLarge)
        const bytes = yield* opened.value.readAtMost(maxFileBytes).pipe(Effect.mapError(systemFailed(key, "load")))
        return Option.isSome(bytes) ? bytes.value : yield* Effect.fail(tooLarge)
      }))

    const parse = (key: string, file: string, bytes: Uint8Array): Effect.Effect<Token.Token, TokenError.Corrupted> =>
      Effect.suspend(() => {
        const corrupted = (reason: string) => Effect.fail(new TokenError.Corrupted({ key, path: file, reason }))
        if (bytes.length === 0) return corrupted("empty file")
        let text: string
        try {
          text = decoder.decode(bytes)
        } catch {
          return corrupted("not UTF-8 text")
        }
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return corrupted("not JSON")
        }
        return Effect.mapError(
          decodeStored(json),
          (error) => new TokenError.Corrupted({ key, path: file, reason: Token.describeParseError(error) })
        )
      })

    const load = (
      key: string
    ): Effect.Effect<Token.Token, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError> =>
      Effect.gen(function*() {
        if (!(yield* checkDirectory(key, "load", false))) return yield* Effect.fail(new TokenError.NotCached({ key }))
        const file = tokenFile(key)
        const bytes = yield* readPrivate(key, file)
        return yield* parse(key, file, bytes)
      }).pipe(noDefects(key, "load"))

    // -------------------------------------------------------------------------
    // save, remove
    // -------------------------------------------------------------------------

    const save = (key: string, token: Token.Token): Effect.Effect<void, TokenError.StoreError> =>
      Effect.suspend(() => {
        const file = tokenFile(key)
        const temporary = path.join(directory, scratchName(key, "tmp"))
        let leftover = false
        return Effect.gen(function*() {
          yield* checkDirectory(key, "save", true)
          const bytes = yield* Effect.try({
            try: () => encoder.encode(`${Token.toJson(token)}\n`),
            catch: () => storeError(key, "save", "the token cannot be encoded")
          })
          yield* Effect.scoped(Effect.gen(function*() {
            const handle = yield* fs.open(temporary, { flag: "wx", mode: fileMode }).pipe(
              Effect.mapError(failed(key, "save", "create", temporary))
            )
            leftover = true
            yield* handle.writeAll(bytes).pipe(Effect.mapError(failed(key, "save", "write", temporary)))
            yield* handle.sync.pipe(Effect.mapError(failed(key, "save", "fsync", temporary)))
          }))
          yield* fs.rename(temporary, file).pipe(
            Effect.mapError(failed(key, "save", "rename a temporary file to", file))
          )
          leftover = false
          yield* syncDirectory
          yield* sweep(key)
        }).pipe(
          noDefects(key, "save"),
          Effect.onExit((exit) =>
            Exit.isFailure(exit) && leftover
              ? fs.remove(temporary).pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))
              : Effect.void
          )
        )
      })

    /** Deletes the scratch files of `key` left by processes of this host that no longer exist. */
    const sweep = (key: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const prefix = scratchPrefix(key)
        const names = yield* fs.readDirectory(directory)
        for (const name of names) {
          if (!name.startsWith(prefix)) continue
          const pid = Number(name.slice(prefix.length).split(".")[0])
          if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue
          yield* fs.remove(path.join(directory, name)).pipe(Effect.ignore)
        }
      }).pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))

    const remove = (key: string): Effect.Effect<void, TokenError.StoreError> =>
      Effect.gen(function*() {
        if (!(yield* checkDirectory(key, "remove", false))) return
        const file = tokenFile(key)
        yield* fs.remove(file).pipe(
          Effect.catchIf(isNotFound, () => Effect.void),
          Effect.mapError(failed(key, "remove", "remove", file))
        )
      }).pipe(noDefects(key, "remove"))

    // -------------------------------------------------------------------------
    // withLock
    // -------------------------------------------------------------------------

    const touch = (file: string, now: number) => fs.utimes(file, now / 1000, now / 1000)

    /**
     * Creates the lock file if there is none: `Some` when it is ours. The lock file appears whole: its
     * content and its modification time (the Clock's, as the heartbeat sets it) are set on a staging
     * file, which is then hard-linked to the lock's name (`link` fails if the name exists: exclusive).
     * A file system without hard links gets the lock file created in place (`open` with `wx`).
     */
    const tryCreate = (key: string, file: string): Effect.Effect<Option.Option<Held>, TokenError.StoreError> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const content = `${
          JSON.stringify({ pid: process.pid, host, nonce: nonce(), acquiredAt: DateTime.unsafeMake(now).toJSON() })
        }\n`
        const bytes = encoder.encode(content)
        const write = (target: string) =>
          Effect.scoped(
            Effect.flatMap(fs.open(target, { flag: "wx", mode: fileMode }), (handle) => handle.writeAll(bytes))
          )
        const inPlace = write(file).pipe(
          Effect.tapError((error) => isAlreadyExists(error) ? Effect.void : fs.remove(file).pipe(Effect.ignore)),
          Effect.zipRight(touch(file, now).pipe(Effect.ignore)),
          Effect.as(true),
          Effect.catchIf(isAlreadyExists, () => Effect.succeed(false)),
          Effect.mapError(failed(key, "lock", "create the lock file", file))
        )
        const staging = path.join(directory, scratchName(key, "new"))
        const linked = yield* write(staging).pipe(
          Effect.zipRight(touch(staging, now).pipe(Effect.ignore)),
          Effect.mapError(failed(key, "lock", "create", staging)),
          Effect.zipRight(
            fs.link(staging, file).pipe(
              Effect.as(true),
              Effect.catchAll((error) =>
                isAlreadyExists(error)
                  ? Effect.succeed(false)
                  : isNotFound(error)
                  ? Effect.fail(failed(key, "lock", "create the lock file", file)(error))
                  : inPlace // no hard links here
              )
            )
          ),
          Effect.ensuring(fs.remove(staging).pipe(Effect.ignore))
        )
        return linked ? Option.some({ key, file, content }) : Option.none()
      })

    /**
     * Reads a lock file: `None` when there is none. Anything but a regular file of this process's
     * user of at most 4 KiB (a symbolic link, a FIFO, a device, a directory, another user's file, a
     * large file) is not a lock this store made: a `StoreError` at once (the service then fetches
     * without the lock), and it is left as it is. It is not read (a FIFO would block the read, a link
     * to `/dev/zero` fill the memory), and not taken over: no process of ours made it, so it is no
     * stale lock of ours, and whoever put it there (this user or root: the directory is ours, 0700)
     * is told, rather than have it disappear.
     */
    const readLock = (key: string, file: string): Effect.Effect<Option.Option<LockFile>, TokenError.StoreError> =>
      Effect.scoped(Effect.gen(function*() {
        const broken = (what: string, fix = `run: rm ${quote(file)}`) =>
          Effect.fail(storeError(
            key,
            "lock",
            `the lock file ${quote(file)} is ${what}, not a lock file of this store (a regular file of at most ` +
              `4 KiB, of the user of this process); it is left as it is: ${fix}`
          ))
        const opened = yield* Files.openRegular(file).pipe(
          Effect.catchTags({
            SystemFailure: (error) => Effect.fail(systemFailed(key, "lock")(error)),
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
        const bytes = yield* readAtMost(maxLockBytes).pipe(Effect.mapError(systemFailed(key, "lock")))
        if (Option.isNone(bytes)) return yield* broken("larger than 4 KiB")
        return Option.some({ content: lockDecoder.decode(bytes.value), ino: entry.ino, mtimeMs: entry.mtimeMs })
      }))

    /** Looks at a lock file held by someone else: `undefined` if it is gone or alive, else why it is stale. */
    const inspect = (key: string, file: string): Effect.Effect<Stale | undefined, TokenError.StoreError> =>
      Effect.gen(function*() {
        const lock = yield* readLock(key, file)
        if (Option.isNone(lock)) return undefined
        const { content, ino, mtimeMs } = lock.value
        const owner = parseOwner(content)
        if (owner !== undefined && owner.host === host && !isAlive(owner.pid)) {
          return { content, ino, why: `its owner, process ${owner.pid}, is gone` }
        }
        // its last sign of life: the modification time the holder sets (creation, heartbeat), or the
        // time written in it if later
        const now = yield* Clock.currentTimeMillis
        const lastSeen = Math.max(mtimeMs, owner?.acquiredAt ?? -Infinity)
        if (now - lastSeen > staleAfterMillis) {
          return { content, ino, why: `it was not refreshed for ${Duration.format(Duration.millis(now - lastSeen))}` }
        }
        return undefined
      })

    /**
     * Takes a stale lock file away: renames it aside (one taker wins), and deletes it if it is the one
     * judged stale; if someone took the lock in between, puts theirs back.
     */
    const takeOver = (key: string, file: string, stale: Stale): Effect.Effect<void, TokenError.StoreError> =>
      Effect.gen(function*() {
        // the lock may have been taken over and taken again since we looked: then it is not the one
        // judged stale, and moving it aside would take a live lock away from its holder (checked right
        // before the rename, which leaves a much smaller window than the look did; the check after the
        // rename catches the rest)
        const current = yield* Files.lstat(file).pipe(Effect.option, Effect.map(Option.flatten))
        if (Option.isNone(current) || current.value.kind !== "File" || current.value.ino !== stale.ino) return
        const aside = path.join(directory, scratchName(key, "stale"))
        const moved = yield* fs.rename(file, aside).pipe(
          Effect.as(true),
          Effect.catchIf(isNotFound, () => Effect.succeed(false)),
          Effect.mapError(failed(key, "lock", "move aside the stale lock file", file))
        )
        if (!moved) return
        const found = yield* readLock(key, aside).pipe(Effect.option, Effect.map(Option.flatten))
        const same = Option.isSome(found) && found.value.content === stale.content && found.value.ino === stale.ino
        if (same) {
          yield* Effect.logInfo(`token store lock ${quote(file)} recovered: ${stale.why}`).pipe(
            Effect.annotateLogs({ "tokenlayer.key": key })
          )
        } else {
          // a fresh lock was taken between our look and the rename: give it back, unless yet another
          // one was created meanwhile (link never replaces)
          yield* fs.link(aside, file).pipe(
            Effect.catchAll((error) => isAlreadyExists(error) ? Effect.void : fs.rename(aside, file)),
            Effect.ignore
          )
        }
        yield* fs.remove(aside).pipe(Effect.ignore)
      })

    /** Takes the lock file, waiting (interruptibly, through `restore`) while someone else holds it. */
    const acquire = (key: string, restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const file = lockFile(key)
        yield* checkDirectory(key, "lock", true)
        let delay = pollFirstMillis
        while (true) {
          const held = yield* tryCreate(key, file)
          if (Option.isSome(held)) return held.value
          const stale = yield* inspect(key, file)
          if (stale !== undefined) {
            yield* takeOver(key, file, stale)
            continue
          }
          const jitter = yield* Random.nextRange(0.75, 1.25)
          yield* restore(Effect.sleep(Duration.millis(Math.round(delay * jitter))))
          delay = Math.min(delay * 2, pollMaxMillis)
        }
      }).pipe(noDefects(key, "lock"))

    /**
     * Whether the lock file still holds our content (read as `readLock` reads, never following a link
     * nor blocking); if so and `touchAt` is given, sets its modification time, on the file read.
     */
    const stillOurs = (held: Held, touchAt?: number): Effect.Effect<boolean, Files.SystemFailure> =>
      Effect.scoped(Effect.gen(function*() {
        const opened = yield* Files.openRegular(held.file).pipe(
          Effect.catchTag("NotRegular", () => Effect.succeedNone)
        )
        if (Option.isNone(opened) || Files.foreignOwner(opened.value.entry) !== undefined) return false
        const bytes = yield* opened.value.readAtMost(maxLockBytes)
        if (Option.isNone(bytes) || lockDecoder.decode(bytes.value) !== held.content) return false
        if (touchAt !== undefined) {
          // by path where a file opened for reading cannot be given a time (Windows)
          yield* opened.value.touch(touchAt).pipe(Effect.orElse(() => touch(held.file, touchAt)), Effect.ignore)
        }
        return true
      }))

    /** While the lock is held: refreshes its modification time, as long as it is still ours. */
    const heartbeat = (held: Held): Effect.Effect<void> =>
      Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(heartbeatEvery)
          const ours = yield* stillOurs(held, yield* Clock.currentTimeMillis).pipe(Effect.either)
          if (ours._tag === "Left") continue // cannot tell now: the next beat may
          if (!ours.right) {
            return yield* Effect.logWarning(
              `token store lock ${quote(held.file)} was taken over by another process while held`
            )
          }
        }
      }).pipe(
        Effect.catchAllDefect(() => Effect.void),
        Effect.annotateLogs({ "tokenlayer.key": held.key })
      )

    /** Deletes the lock file if it is still ours; a failure is logged (the lock goes stale in time). */
    const release = (held: Held): Effect.Effect<void> =>
      Effect.gen(function*() {
        const ours = yield* stillOurs(held).pipe(Effect.either)
        if (ours._tag === "Right" && ours.right) {
          yield* fs.remove(held.file).pipe(
            Effect.catchIf(isNotFound, () => Effect.void),
            Effect.catchAll((error) =>
              Effect.logWarning(
                `cannot remove the token store lock ${quote(held.file)} (${errorCode(error)}); ` +
                  `it will be taken over once stale`
              )
            )
          )
        } else if (ours._tag === "Left") {
          yield* Effect.logWarning(
            `cannot read the token store lock ${quote(held.file)} (${ours.left.code}); ` +
              `it will be taken over once stale`
          )
        } else {
          yield* Effect.logWarning(`token store lock ${quote(held.file)} was taken over by another process while held`)
        }
      }).pipe(
        Effect.catchAllDefect(() => Effect.void),
        Effect.annotateLogs({ "tokenlayer.key": held.key })
      )

    const semaphores = KeyedSemaphore.make()

    /** The lock file, heartbeat while held, released (if still ours) when the scope closes. */
    const lockFileOf = (key: string): Effect.Effect<void, TokenError.StoreError, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const held = yield* acquire(key, restore)
          yield* Effect.addFinalizer(() => release(held))
          // interrupted (before the release above) when the scope closes
          yield* Effect.forkScoped(Effect.interruptible(heartbeat(held)))
        })
      )

    // within one process, fibers queue on a semaphore first: they do not poll each other's lock file
    const lock = (key: string): Effect.Effect<void, TokenError.StoreError, Scope.Scope> =>
      allOrNothing(Effect.zipRight(semaphores.take(key), lockFileOf(key)))

    return { load, save, remove, lock } satisfies Service
  })

// -----------------------------------------------------------------------------
// the default directory
// -----------------------------------------------------------------------------

/** @internal */
export const defaultDirectory: Effect.Effect<string, ConfigError.ConfigError> = Effect.gen(function*() {
  // XDG Base Directory: a relative path in XDG_STATE_HOME is invalid and is ignored
  const state = yield* Config.option(Config.string("XDG_STATE_HOME"))
  if (Option.isSome(state) && path.isAbsolute(state.value)) return path.join(state.value, "tokenlayer")
  const home = yield* Config.option(Config.string("HOME"))
  const homeDirectory = Option.isSome(home) && path.isAbsolute(home.value) ? home.value : systemHome()
  if (homeDirectory === undefined) {
    return yield* Effect.fail(ConfigError.MissingData(
      ["HOME"],
      "no home directory for the token store: set HOME or XDG_STATE_HOME, or give TokenStore.layerFile a directory"
    ))
  }
  return path.join(homeDirectory, ".local", "state", "tokenlayer")
})

const systemHome = (): string | undefined => {
  try {
    const home = os.homedir()
    return path.isAbsolute(home) ? home : undefined
  } catch {
    return undefined
  }
}
