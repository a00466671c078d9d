/**
 * The file store's narrow access to the file system, on `node:fs`: every call the store and its lock
 * files make, each failure a `SystemFailure` with the call, the path and the error code.
 *
 * Why not `@effect/platform`'s `FileSystem`: the store's trust checks need `lstat` (the entry itself, a
 * symbolic link not followed), and an open that never follows a link (`O_NOFOLLOW`) nor waits
 * (`O_NONBLOCK`: a FIFO opens at once), then `fstat`, a read of at most so many bytes, and `futimes`,
 * all on the file that was opened; `FileSystem`'s `open` takes a flag string only, and its `stat`
 * follows links. A store half on `FileSystem` and half on `node:fs` would check one file system and
 * write another (a `FileSystem` in memory, say): so all of it is here, on one.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as nodeFs from "node:fs"
import * as fsPromises from "node:fs/promises"

/** What a directory entry is. */
export type Kind = "File" | "Directory" | "SymbolicLink" | "FIFO" | "Socket" | "CharacterDevice" | "BlockDevice"

/** What `lstat` or `fstat` says of a file. */
export interface Entry {
  readonly kind: Kind
  readonly mode: number
  readonly uid: number
  readonly size: number
  readonly ino: number
  readonly mtimeMs: number
}

/** A system call failed (not with `ENOENT`, which is an answer: nothing there). */
export class SystemFailure extends Data.TaggedError("SystemFailure")<{
  readonly file: string
  readonly call:
    | "lstat"
    | "stat"
    | "open"
    | "fstat"
    | "read"
    | "write"
    | "fsync"
    | "futimes"
    | "utimes"
    | "mkdir"
    | "rename"
    | "link"
    | "unlink"
    | "readdir"
  readonly code: string
}> {}

/** The file is not a regular file (a symbolic link, a FIFO, a device...): it was not read. */
export class NotRegular extends Data.TaggedError("NotRegular")<{
  readonly file: string
  readonly kind: Kind
}> {}

/** The user files must belong to: this process's, where there are owners (`undefined` on Windows). */
export const ownUid: number | undefined = typeof process.getuid === "function" ? process.getuid() : undefined

/** Whose a file is, when it is not ours: its owner, else `undefined`. */
export const foreignOwner = (entry: Entry): number | undefined =>
  ownUid !== undefined && entry.uid !== ownUid ? entry.uid : undefined

/** `a FIFO`, `a symbolic link`...: a kind in an error message. */
export const describeKind = (kind: Kind): string => {
  switch (kind) {
    case "File":
      return "a regular file"
    case "Directory":
      return "a directory"
    case "SymbolicLink":
      return "a symbolic link"
    case "FIFO":
      return "a FIFO"
    case "Socket":
      return "a socket"
    case "CharacterDevice":
      return "a character device"
    case "BlockDevice":
      return "a block device"
  }
}

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : error instanceof Error
    ? error.name
    : "unknown"

const kindOf = (stats: nodeFs.Stats): Kind =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "Socket"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : "BlockDevice"

const toEntry = (stats: nodeFs.Stats): Entry => ({
  kind: kindOf(stats),
  mode: stats.mode,
  uid: stats.uid,
  size: stats.size,
  ino: stats.ino,
  // whole milliseconds, as the Date of `stat` has them
  mtimeMs: stats.mtime.getTime()
})

/** `lstat`: the entry itself (a link is not followed), `None` when there is none. */
export const lstat = (file: string): Effect.Effect<Option.Option<Entry>, SystemFailure> =>
  Effect.tryPromise({
    try: () => fsPromises.lstat(file).then((stats) => Option.some(toEntry(stats))),
    catch: (error) => new SystemFailure({ file, call: "lstat", code: codeOf(error) })
  }).pipe(Effect.catchIf((error) => error.code === "ENOENT", () => Effect.succeedNone))

// where a platform lacks a flag (Windows), it is 0: the checks before and after the open remain
const { O_NOFOLLOW = 0, O_NONBLOCK = 0, O_RDONLY } = nodeFs.constants

/** A regular file opened for reading, without following a link. */
export interface Opened {
  /** What `fstat` said of the file opened, once it was open. */
  readonly entry: Entry
  /** Its bytes from the start, at most `maxBytes`: `None` when it holds more. */
  readonly readAtMost: (maxBytes: number) => Effect.Effect<Option.Option<Uint8Array>, SystemFailure>
  /** Sets its modification (and access) time, on the file opened (`futimes`), epoch ms. */
  readonly touch: (millis: number) => Effect.Effect<void, SystemFailure>
}

/**
 * Opens `file`, a regular file, for reading: `None` when there is none; `NotRegular` when it is not a
 * regular file (checked with `lstat` before the open, so that a FIFO or a device is never opened, and
 * with `fstat` after it, on what was opened), or is a symbolic link (the open has `O_NOFOLLOW`, so a
 * link put in its place meanwhile is not followed either). Closed with the scope, also when
 * interrupted while opening.
 */
export const openRegular = (
  file: string
): Effect.Effect<Option.Option<Opened>, SystemFailure | NotRegular, Scope.Scope> =>
  Effect.gen(function*() {
    const before = yield* lstat(file)
    if (Option.isNone(before)) return Option.none()
    if (before.value.kind !== "File") return yield* Effect.fail(new NotRegular({ file, kind: before.value.kind }))
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => fsPromises.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK),
        catch: (error) => new SystemFailure({ file, call: "open", code: codeOf(error) })
      }).pipe(
        Effect.map(Option.some),
        Effect.catchIf((error) => error.code === "ENOENT", () => Effect.succeedNone),
        // O_NOFOLLOW on a link: ELOOP (Linux, macOS), EMLINK (FreeBSD), EFTYPE (NetBSD)
        Effect.catchIf(
          (error) => error.code === "ELOOP" || error.code === "EMLINK" || error.code === "EFTYPE",
          () => Effect.fail(new NotRegular({ file, kind: "SymbolicLink" }))
        )
      ),
      (opened) =>
        Option.isSome(opened) ? Effect.promise(() => opened.value.close().catch(() => undefined)) : Effect.void
    )
    if (Option.isNone(handle)) return Option.none()
    const fd = handle.value
    const entry = yield* Effect.tryPromise({
      try: () => fd.stat().then(toEntry),
      catch: (error) => new SystemFailure({ file, call: "fstat", code: codeOf(error) })
    })
    if (entry.kind !== "File") return yield* Effect.fail(new NotRegular({ file, kind: entry.kind }))
    const readAtMost = (maxBytes: number): Effect.Effect<Option.Option<Uint8Array>, SystemFailure> =>
      Effect.tryPromise({
        try: async () => {
          // up to one byte more than allowed, which tells a file that holds more
          const chunks: Array<Uint8Array> = []
          let total = 0
          while (total <= maxBytes) {
            const chunk = new Uint8Array(Math.min(64 * 1024, maxBytes + 1 - total))
            const { bytesRead } = await fd.read(chunk, 0, chunk.length, total)
            if (bytesRead === 0) break
            chunks.push(chunk.subarray(0, bytesRead))
            total += bytesRead
          }
          return total > maxBytes ? Option.none() : Option.some(Buffer.concat(chunks, total))
        },
        catch: (error) => new SystemFailure({ file, call: "read", code: codeOf(error) })
      })
    const touch = (millis: number): Effect.Effect<void, SystemFailure> =>
      Effect.tryPromise({
        try: () => fd.utimes(millis / 1000, millis / 1000),
        catch: (error) => new SystemFailure({ file, call: "futimes", code: codeOf(error) })
      })
    return Option.some({ entry, readAtMost, touch })
  })

const attempt = <A>(file: string, call: SystemFailure["call"], f: () => Promise<A>): Effect.Effect<A, SystemFailure> =>
  Effect.tryPromise({ try: f, catch: (error) => new SystemFailure({ file, call, code: codeOf(error) }) })

/** Whether a failure has one of these error codes. */
export const hasCode = (...codes: ReadonlyArray<string>) => (error: SystemFailure): boolean =>
  codes.includes(error.code)

/** Nothing at that path. */
export const isNotFound = hasCode("ENOENT")

/** Something at that path already (any entry, a link included). */
export const isAlreadyExists = hasCode("EEXIST")

/** `stat`: what the path leads to (a link is followed), `None` when there is nothing. */
export const stat = (file: string): Effect.Effect<Option.Option<Entry>, SystemFailure> =>
  attempt(file, "stat", () => fsPromises.stat(file).then((stats) => Option.some(toEntry(stats)))).pipe(
    Effect.catchIf(isNotFound, () => Effect.succeedNone)
  )

/** `mkdir -p`, the directories it creates with `mode`. */
export const makeDirectory = (directory: string, mode: number): Effect.Effect<void, SystemFailure> =>
  Effect.asVoid(attempt(directory, "mkdir", () => fsPromises.mkdir(directory, { recursive: true, mode })))

/**
 * Creates `file` with `mode` (`wx`: `O_CREAT | O_EXCL`, which fails on any existing name, a link
 * included, so it never writes through one), writes `bytes`, fsyncs it if `sync`, and closes it. A
 * file created but not written whole is left: it is the caller's to remove.
 */
export const createExclusive = (
  file: string,
  mode: number,
  bytes: Uint8Array,
  sync: boolean
): Effect.Effect<void, SystemFailure> =>
  Effect.acquireUseRelease(
    attempt(file, "open", () => fsPromises.open(file, "wx", mode)),
    (handle) =>
      Effect.zipRight(
        attempt(file, "write", () => handle.writeFile(bytes)),
        sync ? attempt(file, "fsync", () => handle.sync()) : Effect.void
      ),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

export const rename = (from: string, to: string): Effect.Effect<void, SystemFailure> =>
  attempt(from, "rename", () => fsPromises.rename(from, to))

/** A hard link `file` to `existing`: fails if `file` exists (never replaces). */
export const link = (existing: string, file: string): Effect.Effect<void, SystemFailure> =>
  attempt(file, "link", () => fsPromises.link(existing, file))

/** Unlinks `file` (a link is removed, not what it points to); nothing there is not an error. */
export const remove = (file: string): Effect.Effect<void, SystemFailure> =>
  attempt(file, "unlink", () => fsPromises.unlink(file)).pipe(Effect.catchIf(isNotFound, () => Effect.void))

export const readDirectory = (directory: string): Effect.Effect<ReadonlyArray<string>, SystemFailure> =>
  attempt(directory, "readdir", () => fsPromises.readdir(directory))

/** Sets the modification (and access) time of `file` by its path, epoch ms. */
export const utimes = (file: string, millis: number): Effect.Effect<void, SystemFailure> =>
  attempt(file, "utimes", () => fsPromises.utimes(file, millis / 1000, millis / 1000))

/** fsync of a directory, so that a rename in it survives a power cut; not every platform can: ignored. */
export const syncDirectory = (directory: string): Effect.Effect<void> =>
  Effect.acquireUseRelease(
    attempt(directory, "open", () => fsPromises.open(directory, "r")),
    (handle) => attempt(directory, "fsync", () => handle.sync()),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  ).pipe(Effect.ignore)

/** A path in single quotes, for a shell command in an error message. */
export const quote = (file: string): string => `'${file.replace(/'/g, "'\\''")}'`

/** The calls the file store and its lock files make, as a value: `node`, or in tests one with faults. */
export interface Access {
  readonly lstat: typeof lstat
  readonly stat: typeof stat
  readonly openRegular: typeof openRegular
  readonly makeDirectory: typeof makeDirectory
  readonly createExclusive: typeof createExclusive
  readonly rename: typeof rename
  readonly link: typeof link
  readonly remove: typeof remove
  readonly readDirectory: typeof readDirectory
  readonly utimes: typeof utimes
  readonly syncDirectory: typeof syncDirectory
}

/** @internal */
export const node: Access = {
  lstat,
  stat,
  openRegular,
  makeDirectory,
  createExclusive,
  rename,
  link,
  remove,
  readDirectory,
  utimes,
  syncDirectory
}

/**
 * The file access a file store is made with: `node` unless a test provides another.
 *
 * @internal
 */
export class FileAccess extends Context.Reference<FileAccess>()("tokenlayer/internal/FileAccess", {
  defaultValue: (): Access => node
}) {}
