/**
 * Reading the config file of the `tokenlayer` command, with the trust checks ssh makes of
 * `~/.ssh/config`: a regular file (checked before it is opened: a FIFO would block, a device never
 * end) of at most 1 MiB, owned by the user (or root) and writable by nobody else (whoever can change it
 * can point the token URL at a server of theirs and receive the client secret), UTF-8 JSON nested at
 * most 32 levels, with the settings of `Profiles.ConfigFile` and valid profile names. What is wrong is
 * said by setting and place (a misspelt setting: the one meant; bad JSON: the line and column), never
 * by quoting what was found.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Args from "./Args.js"
import * as Errors from "./Errors.js"
import { ConfigFile, configPath, env, profileFields, quote, reasonOf, validName } from "./Profiles.js"
import * as Sanitize from "./Sanitize.js"

const decodeConfig = Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "error", errors: "all" })

/** What a schema issue expected, without what it found (which may be a secret written by hand). */
const expected = (message: string): string | undefined => {
  const cut = message.indexOf(", actual ")
  const what = cut === -1 ? message : message.slice(0, cut)
  // an optional field's union with undefined: said by the other members
  if (what === "Expected undefined") return undefined
  return Errors.oneLine(what.startsWith("Expected ") ? `expected ${what.slice(9)}` : what, 120)
}

/**
 * Where in `text` a JSON parser stopped: `line L, column C`, from the position in its message (V8:
 * `at position N`), or the end of the text when it ended early. Never what is there.
 */
const jsonErrorPlace = (text: string, message: string): string => {
  const match = /position (\d+)/.exec(message)
  const position = match === null ? text.length : Math.min(Number(match[1]), text.length)
  const before = text.slice(0, position)
  const line = before.split("\n").length
  const column = position - before.lastIndexOf("\n")
  return match === null || position >= text.trimEnd().length
    ? `it ends early (line ${line}, column ${column}: is it cut short?)`
    : `at line ${line}, column ${column}`
}

/** The schema's issues by setting, with what each expected: names, never values. */
const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const byPath = new Map<string, Array<string>>()
  for (const issue of issues) {
    const where = issue.path.length === 0
      ? "the file"
      : issue.path.map((part) => Errors.oneLine(String(part), 60)).join(".")
    const what = issue._tag === "Unexpected"
      ? "unknown setting"
      : issue._tag === "Missing"
      ? "missing"
      : expected(issue.message)
    if (what === undefined) continue
    const said = byPath.get(where) ?? []
    if (!said.includes(what)) said.push(what)
    byPath.set(where, said)
  }
  const parts = Array.from(byPath.entries(), ([where, said]) => {
    if (said.length === 1 && said[0] === "unknown setting") {
      const field = where.slice(where.lastIndexOf(".") + 1)
      const known = where.startsWith("profiles.") ? profileFields : ["default", "profiles"]
      const near = Args.closest(field, known)
      return `unknown setting ${where}${near === undefined ? "" : ` (did you mean ${near}?)`}`
    }
    // `expected A`, `expected B`: `expected A or B`
    const joined = said.map((what, i) => i > 0 && what.startsWith("expected ") ? what.slice(9) : what).join(" or ")
    return `${where}: ${joined}`
  })
  return parts.length === 0 ? "not a config file" : parts.slice(0, 3).join("; ")
}

/** The current user's id, or `undefined` where there is none (Windows). */
const currentUid = (): number | undefined => typeof process.getuid === "function" ? process.getuid() : undefined

const typeNames: Partial<Record<FileSystem.File.Type, string>> = {
  FIFO: "a FIFO",
  Directory: "a directory",
  SymbolicLink: "a link",
  CharacterDevice: "a character device",
  BlockDevice: "a block device",
  Socket: "a socket"
}

const typeName = (type: FileSystem.File.Type): string => typeNames[type] ?? "not a regular file"

/**
 * What is wrong with the config file's owner or permissions, as ssh judges `~/.ssh/config`: it must be
 * owned by the current user (or root) and writable by nobody else, since whoever can change it can
 * point the token URL at a server of theirs and receive the client secret. `undefined` when it is fine
 * (and always on Windows).
 *
 * @since 0.1.0
 * @category validation
 */
export const configFileProblem = (
  file: string,
  info: FileSystem.File.Info,
  target: string
): string | undefined => {
  const uid = currentUid()
  if (uid === undefined || process.platform === "win32") return undefined
  const shown = target === file ? quote(file) : `${quote(file)} (a link to ${quote(target)})`
  const owner = Option.getOrUndefined(info.uid)
  if (owner !== undefined && owner !== uid && owner !== 0) {
    return `the config file ${shown} is owned by uid ${owner}, not by you (uid ${uid}): whoever owns it can ` +
      `change the token URL and receive the client secret; use a config file of your own (chown ${uid} ${
        quote(target)
      })`
  }
  if ((info.mode & 0o022) !== 0) {
    return `permissions ${
      (info.mode & 0o777).toString(8).padStart(4, "0")
    } for the config file ${shown} are too open: whoever can write it can change the token URL and receive ` +
      `the client secret; run chmod go-w ${quote(target)}`
  }
  return undefined
}

/** The profile names of a decoded config file that are not valid (`validName`), shown escaped. */
const badNames = (config: ConfigFile): ReadonlyArray<string> => {
  const names = Object.keys(config.profiles).filter((name) => !validName(name))
  if (config.default !== undefined && !validName(config.default)) names.push(config.default)
  return names.map((name) => `"${Errors.oneLine(name, 70)}"`)
}

/**
 * Reads the config file: an empty configuration when it does not exist. It must be a regular file
 * (checked before it is opened: a FIFO would block, a device never end) of at most 1 MiB, owned by the
 * current user or root and writable by nobody else (`configFileProblem`), UTF-8 JSON nested at most 32
 * levels, with the settings of `ConfigFile` and valid profile names.
 *
 * @since 0.1.0
 * @category io
 */
export const load = (
  file: string,
  mustExist = false
): Effect.Effect<ConfigFile, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannot = (error: PlatformError.PlatformError) =>
      Errors.config(`cannot read the config file ${quote(file)} (${reasonOf(error)}): check its permissions`)
    const fail = (text: string) => Effect.fail(Errors.config(text))
    const info = yield* fs.stat(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (error) => error._tag === "SystemError" && error.reason === "NotFound",
        () => Effect.succeedNone
      ),
      Effect.mapError(cannot)
    )
    if (Option.isNone(info)) {
      if (!mustExist) return { profiles: {} }
      return yield* fail(
        `the config file ${quote(file)} does not exist: check --config or TOKENLAYER_CONFIG, or create it ` +
          `with tokenlayer profile add NAME --config ${quote(file)} ...`
      )
    }
    if (info.value.type !== "File") {
      return yield* fail(
        `the config file ${quote(file)} is ${typeName(info.value.type)}: point --config or TOKENLAYER_CONFIG at a file`
      )
    }
    const target = yield* fs.realPath(file).pipe(Effect.orElseSucceed(() => file))
    const problem = configFileProblem(file, info.value, target)
    if (problem !== undefined) return yield* fail(problem)
    const tooLarge = () =>
      fail(`the config file ${quote(file)} is larger than a config file can be (1 MiB): is it the right file?`)
    if (Number(info.value.size) > Sanitize.maxConfigBytes) return yield* tooLarge()
    const bytes = yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(file, { flag: "r" })
      // the file opened may not be the one looked at: judged again
      const opened = yield* handle.stat
      if (opened.type !== "File") {
        return yield* fail(`the config file ${quote(file)} is ${typeName(opened.type)}: point --config at a file`)
      }
      const again = configFileProblem(file, opened, target)
      if (again !== undefined) return yield* fail(again)
      const chunks: Array<Uint8Array> = []
      let total = 0
      while (true) {
        const chunk = yield* handle.readAlloc(64 * 1024)
        if (Option.isNone(chunk)) break
        chunks.push(chunk.value)
        total += chunk.value.length
        if (total > Sanitize.maxConfigBytes) return yield* tooLarge()
      }
      return Buffer.concat(chunks, total)
    })).pipe(Effect.mapError((error) => error instanceof Errors.CliError ? error : cannot(error)))
    let text: string
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return yield* fail(`the config file ${quote(file)} is not UTF-8 text: fix it, or move it away`)
    }
    if (!Sanitize.nestsAtMost(text, Sanitize.maxConfigDepth)) {
      return yield* fail(
        `the config file ${quote(file)} nests deeper than ${Sanitize.maxConfigDepth} levels: ` +
          `it is not a config file; fix it, or move it away and add the profiles again`
      )
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (error) {
      const place = jsonErrorPlace(text, error instanceof Error ? error.message : "")
      return yield* fail(
        `the config file ${quote(file)} is not valid JSON, ${place}: fix it, or move it away and add the profiles again`
      )
    }
    const decoded = decodeConfig(json)
    if (decoded._tag === "Left") {
      return yield* fail(`the config file ${quote(file)} is not valid: ${describeIssues(decoded.left)}`)
    }
    const names = badNames(decoded.right)
    if (names.length > 0) {
      return yield* fail(
        `the config file ${quote(file)} names a profile ${
          names.slice(0, 3).join(", ")
        } that is not a profile name: use letters, digits, ., _ and - (at most 64, starting with a letter or digit)`
      )
    }
    return decoded.right
  })

/**
 * The config file and what it holds. One named by `--config` or `TOKENLAYER_CONFIG` must exist, unless
 * `create` (`profile add` makes it).
 *
 * @since 0.1.0
 * @category io
 */
export const open = (
  flag: string | undefined,
  create = false
): Effect.Effect<{ readonly file: string; readonly config: ConfigFile }, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const file = yield* configPath(Option.fromNullable(flag))
    const named = flag !== undefined || Option.isSome(yield* env("TOKENLAYER_CONFIG"))
    return { file, config: yield* load(file, named && !create) }
  })
