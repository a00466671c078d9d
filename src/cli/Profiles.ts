/**
 * Profiles: named settings of the `tokenlayer` command, in one JSON file.
 *
 * The file is `$TOKENLAYER_CONFIG`, else `$XDG_CONFIG_HOME/tokenlayer/config.json`, else
 * `~/.config/tokenlayer/config.json`:
 *
 * ```json
 * {
 *   "default": "iceye",
 *   "profiles": {
 *     "iceye": {
 *       "grant": "client_credentials",
 *       "tokenUrl": "https://auth.example.com/oauth2/token",
 *       "clientId": "my-client",
 *       "clientAuth": "client_secret_basic",
 *       "secretEnv": "ICEYE_CLIENT_SECRET",
 *       "buffer": "5m"
 *     }
 *   }
 * }
 * ```
 *
 * A profile never holds a secret: it names where the secret is (`secretEnv`, an environment variable;
 * `secretFile`, a file only its owner can read). Unknown fields are refused, so that a misspelt setting
 * is not silently ignored. The file is written whole (a temporary file renamed over it), mode 0600, in a
 * directory created 0700. It is read only if it is a regular file of at most 1 MiB, owned by the user (or
 * root) and writable by nobody else, as ssh wants of `~/.ssh/config`: whoever can change it can point the
 * token URL at a server of theirs and receive the client secret.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import * as Errors from "./Errors.js"
import * as Options from "./Options.js"
import * as Sanitize from "./Sanitize.js"

/**
 * The grants the command can use.
 *
 * @since 0.1.0
 * @category models
 */
export const GrantName = Schema.Literal(...Options.grantNames)

/**
 * @since 0.1.0
 * @category models
 */
export type GrantName = typeof GrantName.Type

/**
 * Client authentication methods (RFC 7591 names; `basic` and `post` are accepted as short names).
 *
 * @since 0.1.0
 * @category models
 */
export const ClientAuthName = Schema.Literal(...Options.clientAuthNames)

/**
 * @since 0.1.0
 * @category models
 */
export type ClientAuthName = typeof ClientAuthName.Type

const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

/**
 * One profile: every field optional (flags and `TOKENLAYER_*` variables can give the rest).
 *
 * @since 0.1.0
 * @category models
 */
export const Profile = Schema.Struct({
  grant: Schema.optional(GrantName),
  /** The issuer: its metadata (RFC 8414) names the token, device and revocation endpoints. */
  issuer: Schema.optional(NonEmpty),
  tokenUrl: Schema.optional(NonEmpty),
  deviceAuthorizationUrl: Schema.optional(NonEmpty),
  revocationUrl: Schema.optional(NonEmpty),
  clientId: Schema.optional(NonEmpty),
  clientAuth: Schema.optional(ClientAuthName),
  scope: Schema.optional(Schema.String),
  audience: Schema.optional(Schema.String),
  /** Renew when less than this is left: `30s`, `5m`, `1h`, `5 minutes`. */
  buffer: Schema.optional(NonEmpty),
  /** The name of the environment variable that holds the client secret (or the JWT key). */
  secretEnv: Schema.optional(NonEmpty),
  /** A file that holds the client secret (or the JWT key); it must not be readable by group or others. */
  secretFile: Schema.optional(NonEmpty),
  /** jwt_bearer: the `kid` header of the assertions. */
  keyId: Schema.optional(NonEmpty),
  /** jwt_bearer: the `iss` claim (Disruptive Technologies: the service account's email). */
  assertionIssuer: Schema.optional(NonEmpty),
  /** jwt_bearer: the `sub` claim. */
  subject: Schema.optional(NonEmpty),
  /** token_exchange: the file of the subject token (a Kubernetes projected token, a CI job's OIDC token). */
  subjectTokenFile: Schema.optional(NonEmpty),
  /** token_exchange: the subject token's RFC 8693 type. Default: `urn:ietf:params:oauth:token-type:jwt`. */
  subjectTokenType: Schema.optional(NonEmpty),
  /** Retries of a token request that failed transiently. */
  retries: Schema.optional(Schema.Int.pipe(Schema.between(0, 10)))
})

/**
 * @since 0.1.0
 * @category models
 */
export type Profile = typeof Profile.Type

/**
 * The setting names of a profile, in the order `profile list` shows them.
 *
 * @since 0.1.0
 * @category models
 */
export const profileFields: ReadonlyArray<keyof Profile> = Object.keys(Profile.fields) as Array<keyof Profile>

/**
 * The config file.
 *
 * @since 0.1.0
 * @category models
 */
export const ConfigFile = Schema.Struct({
  /** The profile used when none is named. */
  default: Schema.optional(Schema.String),
  profiles: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Profile }), { default: () => ({}) })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ConfigFile = typeof ConfigFile.Type

/**
 * A profile name: letters, digits, `.`, `_`, `-`, starting with a letter or digit, at most 64.
 *
 * @since 0.1.0
 * @category validation
 */
export const validName = (name: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)

/**
 * The config file's path: `$TOKENLAYER_CONFIG`, `$XDG_CONFIG_HOME/tokenlayer/config.json` (an absolute
 * `XDG_CONFIG_HOME` only), or `~/.config/tokenlayer/config.json`.
 *
 * @since 0.1.0
 * @category paths
 */
export const configPath = (flag: Option.Option<string>): Effect.Effect<string, Errors.CliError> =>
  Effect.gen(function*() {
    const given: Option.Option<readonly [string, string]> = Option.isSome(flag)
      ? Option.some([flag.value, "--config"])
      : Option.map(yield* env("TOKENLAYER_CONFIG"), (file) => [file, "TOKENLAYER_CONFIG"])
    if (Option.isSome(given)) {
      const [file, origin] = given.value
      if (Sanitize.tooLong(file, Sanitize.maxPath)) {
        return yield* Effect.fail(Errors.usage(Sanitize.tooLongText(origin, file, Sanitize.maxPath)))
      }
      return path.resolve(expandHome(file, yield* home))
    }
    const xdg = yield* env("XDG_CONFIG_HOME")
    if (Option.isSome(xdg) && path.isAbsolute(xdg.value)) return path.join(xdg.value, "tokenlayer", "config.json")
    const dir = yield* home
    if (dir === undefined) {
      return yield* Effect.fail(
        Errors.config("no home directory for the config file: set HOME, XDG_CONFIG_HOME or TOKENLAYER_CONFIG")
      )
    }
    return path.join(dir, ".config", "tokenlayer", "config.json")
  })

/**
 * An environment variable through `Config` (so tests can give another `ConfigProvider`); empty is absent.
 *
 * @since 0.1.0
 * @category config
 */
export const env = (name: string): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((value) => value !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/**
 * The home directory: `$HOME` when absolute, else the system's idea of it.
 *
 * @since 0.1.0
 * @category paths
 */
export const home: Effect.Effect<string | undefined> = Effect.map(env("HOME"), (value) => {
  if (Option.isSome(value) && path.isAbsolute(value.value)) return value.value
  try {
    const dir = os.homedir()
    return path.isAbsolute(dir) ? dir : undefined
  } catch {
    return undefined
  }
})

/**
 * `~/x` as `<home>/x`.
 *
 * @since 0.1.0
 * @category paths
 */
export const expandHome = (file: string, homeDirectory: string | undefined): string =>
  homeDirectory !== undefined && (file === "~" || file.startsWith("~/"))
    ? path.join(homeDirectory, file.slice(1))
    : file

/**
 * What a file system error was, in a word (`NotFound`, `PermissionDenied`...).
 *
 * @since 0.1.0
 * @category errors
 */
export const reasonOf = (error: PlatformError.PlatformError): string =>
  error._tag === "SystemError" ? error.reason : "BadArgument"

/** A path in single quotes, as a shell would need it. */
export const quote = (file: string): string => `'${file.replace(/'/g, "'\\''")}'`

/**
 * Writes the config file whole: a 0600 temporary file in its directory (created 0700), renamed over it.
 *
 * @since 0.1.0
 * @category io
 */
export const save = (
  file: string,
  config: ConfigFile
): Effect.Effect<void, Errors.CliError, FileSystem.FileSystem> =>
  writePrivate(file, `${JSON.stringify(config, null, 2)}\n`, "the config file")

/**
 * Writes a private file whole: a 0600 temporary file in its directory (created 0700), renamed over it.
 *
 * @since 0.1.0
 * @category io
 */
export const writePrivate = (
  file: string,
  content: string,
  what: string
): Effect.Effect<void, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = path.dirname(file)
    const temporary = path.join(directory, `.${path.basename(file)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
    const fail = (step: string) => (error: PlatformError.PlatformError) =>
      Errors.config(
        `cannot ${step} ${what} ${quote(file)} (${reasonOf(error)}): check the permissions of ${quote(directory)}`
      )
    yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 }).pipe(
      Effect.mapError(fail("create the directory of"))
    )
    yield* fs.writeFileString(temporary, content, { flag: "wx", mode: 0o600 }).pipe(Effect.mapError(fail("write")))
    yield* fs.rename(temporary, file).pipe(
      Effect.tapError(() => fs.remove(temporary).pipe(Effect.ignore)),
      Effect.mapError(fail("replace"))
    )
  })

/**
 * Which profile a command uses: the one named (flag, then `TOKENLAYER_PROFILE`), else the file's
 * `default`, else the only profile there is. `undefined` when there is none (settings then come from
 * flags and environment variables alone).
 *
 * @since 0.1.0
 * @category selection
 */
export const select = (
  config: ConfigFile,
  file: string,
  flag: Option.Option<string>
): Effect.Effect<{ readonly name: string; readonly profile: Profile } | undefined, Errors.CliError> =>
  Effect.gen(function*() {
    const named = Option.isSome(flag) ? flag : yield* env("TOKENLAYER_PROFILE")
    const names = Object.keys(config.profiles)
    if (Option.isSome(named) && !validName(named.value)) {
      return yield* Effect.fail(Errors.usage(
        `"${Errors.oneLine(named.value, 70)}" (${
          Option.isSome(flag) ? "--profile" : "TOKENLAYER_PROFILE"
        }) is not a profile name: use letters, digits, ., _ and - (at most 64, starting with a letter or digit)`
      ))
    }
    if (Option.isSome(named)) {
      const profile = config.profiles[named.value]
      if (profile === undefined) {
        return yield* Effect.fail(Errors.config(
          `no profile ${named.value} in ${quote(file)}${
            names.length === 0 ? "" : ` (there are: ${names.slice(0, 10).join(", ")})`
          }: add it with tokenlayer profile add ${named.value} ...`
        ))
      }
      return { name: named.value, profile }
    }
    if (config.default !== undefined) {
      const profile = config.profiles[config.default]
      if (profile === undefined) {
        return yield* Effect.fail(Errors.config(
          `the default profile ${config.default} of ${
            quote(file)
          } does not exist: add it, or name another with --profile`
        ))
      }
      return { name: config.default, profile }
    }
    if (names.length === 1) return { name: names[0]!, profile: config.profiles[names[0]!]! }
    if (names.length > 1) {
      return yield* Effect.fail(Errors.config(
        `${names.length} profiles and no default: name one with --profile (${
          names.slice(0, 10).join(", ")
        }) or set TOKENLAYER_PROFILE`
      ))
    }
    return undefined
  })
