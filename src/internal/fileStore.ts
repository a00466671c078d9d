/**
 * The file token store: one JSON file per key in a private directory, written atomically, and one lock
 * file per key (`lockFile.ts`); all of it on `node:fs` (`fileStoreFiles.ts`, which says why).
 *
 * - Names: `<slug>-<hash>.json` (`fileStoreNames.ts`): any key (slashes, `..`, unicode, a megabyte)
 *   gives a short, readable name with no path separator, in time linear in its length.
 * - Modes and owners: files 0600 in a directory of 0700 (created, with its parents, if missing). A
 *   token file or a directory that group or others can access is refused (`StoreError` with the
 *   `chmod` that fixes it), as ssh refuses a private key: the content may be fine, so it is not
 *   `Corrupted`. Not on Windows. So is one owned by another user than this process's (`getuid`; not
 *   where there is none), and one that is a symbolic link (as ssh and gpg refuse them): whoever owns
 *   the file, or the link, chooses the token. The directory is checked with `lstat` and `stat`; the
 *   token file is opened with `O_NOFOLLOW | O_NONBLOCK` after an `lstat` (a FIFO or a device is never
 *   opened), and its type, owner and mode are those `fstat` gives of the file opened.
 * - Writes: a temporary file in the same directory (`wx`, 0600), written, fsynced, closed, then renamed
 *   over the token file (`rename` replaces a link there, never its target), and the directory fsynced:
 *   a reader sees the old file or the new one, never half of one, even if the writer is killed.
 *   `remove` unlinks: a link is removed, not what it points to.
 * - Scratch files (the temporary file of a write, the staging file of a lock, a stale lock moved aside)
 *   are named `.<slug>-<hash>.<host>.<pid>.<nonce>.<kind>`; each save deletes the key's scratch files
 *   of processes of this host that no longer exist, so a killed command-line tool leaves nothing that
 *   lasts.
 * - Lock: within one process a per-key semaphore comes first, so fibers of one process do not poll
 *   each other; then the lock file. What is at the lock's path and is not a lock of ours fails `lock`
 *   at once (the service fetches without the lock), and is left there.
 *
 * Every failure is a `StoreError` (with the operation and the path) or `NotCached` / `Corrupted`,
 * never a defect; the content of a file never appears in an error.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as os from "node:os"
import * as path from "node:path"
import * as Token from "../Token.js"
import * as TokenError from "../TokenError.js"
import type { Service } from "../TokenStore.js"
import type { Options } from "../TokenStore/File.js"
import * as Files from "./fileStoreFiles.js"
import { fileName, lockName, scratchName, scratchPrefix } from "./fileStoreNames.js"
import * as KeyedSemaphore from "./keyedSemaphore.js"
import * as LockFile from "./lockFile.js"
import { allOrNothing } from "./storeLock.js"

/** @internal */
export const defaultStaleAfter: Duration.Duration = Duration.seconds(10)

const fileMode = 0o600
const directoryMode = 0o700
const maxFileBytes = 1024 * 1024

export {
  /** @internal */
  fileName
} from "./fileStoreNames.js"

const { quote } = Files

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, "0")

const tooOpen = (mode: number): boolean => process.platform !== "win32" && (mode & 0o077) !== 0

/**
 * Why a file or directory owned by another user is not trusted, and what fixes it. Whoever owns a
 * token file or the directory can put there a token of their choosing (or read it), as another user's
 * `~/.ssh` could hold a key of theirs: ssh and gpg refuse those too.
 */
const notOurs = (what: string, file: string, uid: number): string =>
  `${what} ${quote(file)} is owned by uid ${uid}, not by uid ${Files.ownUid} (the user of this process), ` +
  `and is not trusted: if it is yours, run: chown ${Files.ownUid} ${quote(file)}; else remove it`

type Operation = TokenError.StoreError["operation"]

const storeError = (key: string, operation: Operation, reason: string): TokenError.StoreError =>
  new TokenError.StoreError({ key, operation, reason })

const failed = (key: string, operation: Operation, what: string, file: string) => (error: Files.SystemFailure) =>
  storeError(key, operation, `cannot ${what} ${quote(file)} (${error.code})`)

const systemFailed = (key: string, operation: Operation) => (error: Files.SystemFailure): TokenError.StoreError =>
  storeError(key, operation, `cannot ${error.call} ${quote(error.file)} (${error.code})`)

/** A defect in a store operation (a bug) is a `StoreError` too, saying what kind of defect, without its message. */
const noDefects = (key: string, operation: Operation) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAllDefect(effect, (defect) =>
    Effect.fail(
      storeError(key, operation, `unexpected failure (${defect instanceof Error ? defect.name : typeof defect})`)
    ))

/** @internal */
export const make = (options: Options): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const directory = path.resolve(options.directory)
    const staleAfter = Duration.decode(options.staleAfter ?? defaultStaleAfter)
    if (!Duration.isFinite(staleAfter) || Duration.toMillis(staleAfter) <= 0) {
      return yield* Effect.dieMessage("TokenStore.layerFile: staleAfter must be finite and positive")
    }
    const files = yield* Files.FileAccess
    const lockFiles = LockFile.make(staleAfter, files)
    const semaphores = KeyedSemaphore.make()
    const encoder = new TextEncoder()
    const decoder = new TextDecoder("utf-8", { fatal: true })
    const decodeStored = Schema.decodeUnknown(Token.TokenFromStored)
    const tokenFile = (key: string) => path.join(directory, fileName(key))

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
          // `stat` follows a link, `lstat` does not: both, so that the directory reached is the entry itself
          const reached = yield* files.stat(directory).pipe(
            Effect.mapError(failed(key, operation, "read the token directory", directory))
          )
          const entry = yield* files.lstat(directory).pipe(Effect.mapError(systemFailed(key, operation)))
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
          if (entry.value.kind !== "Directory" || reached.value.kind !== "Directory") {
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
        yield* files.makeDirectory(directory, directoryMode).pipe(
          Effect.mapError(failed(key, operation, "create the token directory", directory))
        )
        // someone may have made it first, and not as we would have
        return yield* check
      })

    /**
     * The bytes of a token file of our own: a regular file (never a link followed, nor a FIFO opened),
     * owned by the user of this process, accessible by that user only.
     */
    const readPrivate = (
      key: string,
      file: string
    ): Effect.Effect<Uint8Array, TokenError.NotCached | TokenError.Corrupted | TokenError.StoreError> =>
      Effect.scoped(Effect.gen(function*() {
        const opened = yield* files.openRegular(file).pipe(
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
        return yield* parse(key, file, yield* readPrivate(key, file))
      }).pipe(noDefects(key, "load"))

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
          leftover = true
          yield* files.createExclusive(temporary, fileMode, bytes, true).pipe(
            Effect.tapError((error) =>
              Effect.sync(() => {
                leftover = error.call !== "open"
              })
            ),
            Effect.mapError((error) =>
              failed(key, "save", error.call === "open" ? "create" : error.call, temporary)(error)
            )
          )
          yield* files.rename(temporary, file).pipe(
            Effect.mapError(failed(key, "save", "rename a temporary file to", file))
          )
          leftover = false
          yield* files.syncDirectory(directory)
          yield* sweep(key)
        }).pipe(
          noDefects(key, "save"),
          Effect.onExit((exit) =>
            Exit.isFailure(exit) && leftover
              ? files.remove(temporary).pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))
              : Effect.void
          )
        )
      })

    /** Deletes the scratch files of `key` left by processes of this host that no longer exist. */
    const sweep = (key: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const prefix = scratchPrefix(key)
        for (const name of yield* files.readDirectory(directory)) {
          if (!name.startsWith(prefix)) continue
          const pid = Number(name.slice(prefix.length).split(".")[0])
          if (!Number.isSafeInteger(pid) || pid === process.pid || LockFile.isAlive(pid)) continue
          yield* Effect.ignore(files.remove(path.join(directory, name)))
        }
      }).pipe(Effect.ignore, Effect.catchAllDefect(() => Effect.void))

    const remove = (key: string): Effect.Effect<void, TokenError.StoreError> =>
      Effect.gen(function*() {
        if (!(yield* checkDirectory(key, "remove", false))) return
        const file = tokenFile(key)
        yield* files.remove(file).pipe(Effect.mapError(failed(key, "remove", "remove", file)))
      }).pipe(noDefects(key, "remove"))

    // within one process, fibers queue on a semaphore first: they do not poll each other's lock file
    const lock = (key: string): Effect.Effect<void, TokenError.StoreError, Scope.Scope> =>
      allOrNothing(Effect.zipRight(
        semaphores.take(key),
        Effect.zipRight(
          checkDirectory(key, "lock", true),
          lockFiles.take({
            file: path.join(directory, lockName(key)),
            scratch: (kind) => path.join(directory, scratchName(key, kind))
          }).pipe(Effect.mapError((error) => storeError(key, "lock", error.reason)))
        ).pipe(noDefects(key, "lock"))
      )).pipe(Effect.annotateLogs({ "tokenlayer.key": key }))

    return { load, save, remove, lock } satisfies Service
  })

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
