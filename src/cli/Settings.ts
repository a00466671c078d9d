/**
 * The settings a command runs with: a profile's, overridden by `TOKENLAYER_*` environment variables,
 * overridden by flags; and the secret, from where the settings say.
 *
 * Secrets are never command-line arguments (they would show in `ps`). They come from, in this order:
 * standard input (`--secret-stdin`); a file or an environment variable named by a flag or by
 * `TOKENLAYER_SECRET_FILE` / `TOKENLAYER_SECRET_ENV`; a file or an environment variable named by the
 * profile (`secretFile`, `secretEnv`); `TOKENLAYER_CLIENT_SECRET`. A secret file must be a regular file
 * that group and others cannot access (0600), as ssh wants of a private key.
 *
 * Each value is read through one `ConfigProvider` (`Sources`): the flag, else the `TOKENLAYER_*`
 * variable, else the profile's field; and each remembers where it came from, so that a message about a flag or a
 * variable names it (a bad value there is bad usage, exit 2) and only a profile's own value is
 * reported as the profile's (exit 3).
 *
 * Every value is bounded (`Sanitize`: 4 KiB for ids, URLs, scopes, audiences and the JWT claims, 4096
 * for paths, 64 for a duration): a longer flag or `TOKENLAYER_*` variable is bad usage (exit 2), a longer
 * profile setting a configuration error (exit 3), named, never shown. A secret's variable name must be
 * one (`[A-Za-z_][A-Za-z0-9_]*`): what is not may be the secret itself, and is not repeated.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import * as TokenStore from "../TokenStore.js"
import * as Args from "./Args.js"
import * as ConfigLoad from "./ConfigLoad.js"
import * as Errors from "./Errors.js"
import * as Options from "./Options.js"
import * as Profiles from "./Profiles.js"
import * as Sanitize from "./Sanitize.js"
import * as Sources from "./Sources.js"
import * as Values from "./Values.js"

export {
  /**
   * @since 0.1.0
   * @category parsing
   */
  parseDuration,
  /**
   * @since 0.1.0
   * @category validation
   */
  urlProblem
} from "./Values.js"

/**
 * The settings flags can give, by option key (`tokenUrl`), as `Args.parse` answers them.
 *
 * @since 0.1.0
 * @category models
 */
export type Flags = Args.Parsed["values"]

/**
 * Where the secret comes from.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretSource =
  | { readonly _tag: "Stdin" }
  | { readonly _tag: "File"; readonly file: string; readonly origin: string }
  | { readonly _tag: "Env"; readonly name: string; readonly origin: string }
  | { readonly _tag: "None" }

/**
 * The client authentication methods, by their RFC 7591 names (the profile's names without the short
 * `basic` and `post`).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthMethod = Exclude<Profiles.ClientAuthName, "basic" | "post">

/**
 * What a command runs with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** The profile's name, or `(no profile)`. */
  readonly profile: string
  readonly configFile: string
  readonly stateDir: string
  readonly grant: Profiles.GrantName
  readonly issuer: string | undefined
  readonly tokenUrl: string | undefined
  readonly deviceAuthorizationUrl: string | undefined
  readonly revocationUrl: string | undefined
  readonly clientId: string | undefined
  readonly clientAuth: ClientAuthMethod
  readonly scope: string | undefined
  readonly audience: string | undefined
  readonly buffer: Duration.Duration | undefined
  readonly retries: number
  readonly keyId: string | undefined
  readonly assertionIssuer: string | undefined
  readonly subject: string | undefined
  /** token_exchange: the subject token's file (absolute) and type. */
  readonly subjectTokenFile: string | undefined
  readonly subjectTokenType: string | undefined
  readonly secret: SecretSource
  readonly verbose: boolean
}

/** Used when nothing says how often to retry: a command should not keep a script waiting long. */
export const defaultRetries = 2

/** A value and where it came from. */
interface Found<A> {
  readonly value: A
  /** `--token-url`, `TOKENLAYER_TOKEN_URL`, or `the tokenUrl of profile x in '<file>'`. */
  readonly origin: string
  /** A flag or a variable: a bad value is bad usage (exit 2); a profile's is configuration (exit 3). */
  readonly given: boolean
}

const textOption = (name: string): Args.OptionSpec => Options.settingsOptions.find((option) => option.name === name)!

/** An optional string of the flags. */
const flagText = (flags: Flags, key: string): string | undefined => {
  const value = flags[key]
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined
}

/** The state directory: flag, `TOKENLAYER_STATE_DIR`, or the file store's default. */
const stateDirectory = (flags: Flags): Effect.Effect<string, Errors.CliError> =>
  Effect.gen(function*() {
    const home = yield* Profiles.home
    const flag = flagText(flags, "stateDir")
    const given: Option.Option<readonly [string, string]> = flag !== undefined
      ? Option.some([flag, "--state-dir"])
      : Option.map(yield* Profiles.env("TOKENLAYER_STATE_DIR"), (dir) => [dir, "TOKENLAYER_STATE_DIR"])
    if (Option.isSome(given)) {
      const [dir, origin] = given.value
      if (Sanitize.tooLong(dir, Sanitize.maxPath)) {
        return yield* Effect.fail(Errors.usage(Sanitize.tooLongText(origin, dir, Sanitize.maxPath)))
      }
      return path.resolve(Profiles.expandHome(dir, home))
    }
    return yield* TokenStore.defaultDirectory.pipe(
      Effect.mapError(() =>
        Errors.config("no home directory for the token files: set HOME, XDG_STATE_HOME or TOKENLAYER_STATE_DIR")
      )
    )
  })

/**
 * The config file a command reads and its profile (the one named, the default, or the only one). A
 * config file named by `--config` or `TOKENLAYER_CONFIG` must exist.
 *
 * @since 0.1.0
 * @category resolution
 */
export const selectProfile = (flags: Flags) =>
  Effect.gen(function*() {
    const { config, file: configFile } = yield* ConfigLoad.open(flagText(flags, "config"))
    const selected = yield* Profiles.select(config, configFile, Option.fromNullable(flagText(flags, "profile")))
    return { configFile, config, selected }
  })

/**
 * The settings of a command: flag, else `TOKENLAYER_*` variable, else the profile's setting, else the
 * default; checked, so that a missing or malformed setting is an error that names where it came from.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = (flags: Flags): Effect.Effect<Settings, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { configFile, selected } = yield* selectProfile(flags)
    const profile: Profiles.Profile = selected?.profile ?? {}
    const profileName = selected?.name ?? "(no profile)"
    const home = yield* Profiles.home
    const where = selected === undefined ? "" : ` (profile ${profileName} in ${Profiles.quote(configFile)})`

    /** The error of a bad value: usage for a flag or a variable, configuration for a profile's. */
    const bad = (found: Found<unknown>, text: string) =>
      Effect.fail(found.given ? Errors.usage(text) : Errors.config(text))

    const sources = yield* Sources.make(flags, profile, { profile: profileName, file: configFile })

    /** The option's setting from the sources (flag, variable, profile), at most `max` characters, checked. */
    const pick = (
      option: string,
      max: number = Sanitize.maxValue
    ): Effect.Effect<Found<string> | undefined, Errors.CliError> =>
      Effect.gen(function*() {
        const spec = textOption(option)
        const value = yield* sources.read(spec)
        const origin = sources.originOf(spec)
        if (Option.isNone(value) || origin === undefined) return undefined
        const found: Found<string> = { value: value.value, origin: origin.label, given: origin.given }
        if (Sanitize.tooLong(found.value, max)) {
          return yield* bad(found, Sanitize.tooLongText(found.origin, found.value, max))
        }
        // a variable is checked as its flag is (a flag was checked by the parser, a profile by its schema)
        const checked = Args.checkValue(spec, found.value, found.origin)
        return checked instanceof Errors.CliError ? yield* bad(found, checked.text) : found
      })

    /** A URL setting, checked: `http(s)`, no credentials. */
    const url = (option: string, label: string) =>
      Effect.flatMap(pick(option), (found) => {
        const problem = found === undefined ? undefined : Values.urlProblem(label, found.value)
        return problem === undefined
          ? Effect.succeed(found?.value)
          : bad(found!, `${problem} (${found!.given ? `from ${found!.origin}` : where.slice(2, -1)})`)
      })

    const grantFound = yield* pick("grant")
    const grant: Profiles.GrantName = (grantFound?.value as Profiles.GrantName | undefined) ?? "client_credentials"
    const issuer = yield* url("issuer", "issuer")
    const tokenUrl = yield* url("token-url", "token URL")
    const deviceAuthorizationUrl = yield* url("device-authorization-url", "device authorization URL")
    const revocationUrl = yield* url("revocation-url", "revocation URL")
    const clientId = (yield* pick("client-id"))?.value
    const clientAuthText = (yield* pick("client-auth"))?.value as Profiles.ClientAuthName | undefined
    const scope = (yield* pick("scope"))?.value
    const audience = (yield* pick("audience"))?.value
    const bufferFound = yield* pick("buffer", Sanitize.maxDuration)
    let buffer: Duration.Duration | undefined = undefined
    if (bufferFound !== undefined) {
      const millis = Values.parseDuration(bufferFound.value)
      if (Option.isNone(millis)) {
        return yield* bad(
          bufferFound,
          `${bufferFound.origin} ${Errors.oneLine(bufferFound.value, 60)} is not a duration: write 30s, 5m or 1h`
        )
      }
      buffer = Duration.millis(millis.value)
    }
    const retriesFound = yield* pick("retries")
    const retries = retriesFound === undefined ? defaultRetries : Number(retriesFound.value)
    const keyId = (yield* pick("key-id"))?.value
    const assertionIssuer = (yield* pick("assertion-issuer"))?.value
    const subject = (yield* pick("subject"))?.value
    const subjectTokenFile = (yield* pick("subject-token-file", Sanitize.maxPath))?.value
    const subjectTokenType = (yield* pick("subject-token-type"))?.value
    const secret = yield* secretSource(flags, profile, profileName, configFile, home)

    const defaultAuth: ClientAuthMethod = grant === "client_credentials" ||
        (grant === "token_exchange" && secret._tag !== "None")
      ? "client_secret_basic"
      : grant === "device_code" && secret._tag !== "None"
      ? "client_secret_basic"
      : "none"
    const clientAuth = clientAuthText === undefined ? defaultAuth : canonicalAuth(clientAuthText)
    const settings: Settings = {
      profile: profileName,
      configFile,
      stateDir: yield* stateDirectory(flags),
      grant,
      issuer,
      tokenUrl,
      deviceAuthorizationUrl,
      revocationUrl,
      clientId,
      clientAuth,
      scope: scope === undefined || scope.trim() === "" ? undefined : scope.trim(),
      audience: audience === undefined || audience === "" ? undefined : audience,
      buffer,
      retries,
      keyId,
      assertionIssuer,
      subject,
      subjectTokenFile: subjectTokenFile === undefined
        ? undefined
        : path.resolve(Profiles.expandHome(subjectTokenFile, home)),
      subjectTokenType,
      secret,
      verbose: flags.verbose === true
    }
    const problem = missingProblem(settings)
    if (problem === undefined) return settings
    return yield* Effect.fail(
      Errors.config(problem.includes("%where%") ? problem.replace("%where%", where) : `${problem}${where}`)
    )
  })

const canonicalAuth = (name: Profiles.ClientAuthName): ClientAuthMethod =>
  name === "basic" ? "client_secret_basic" : name === "post" ? "client_secret_post" : name

/** What the grant of the settings needs and they do not give, or `undefined`. */
const missingProblem = (settings: Settings): string | undefined => {
  const missing = (what: string, flag: string, variable: string) =>
    `no ${what}%where%: give ${flag}, set TOKENLAYER_${variable}, or add it to the profile (tokenlayer profile add)`
  const { assertionIssuer, clientAuth, clientId, deviceAuthorizationUrl, issuer, tokenUrl } = settings
  switch (settings.grant) {
    case "client_credentials":
      if (tokenUrl === undefined && issuer === undefined) {
        return missing("token URL or issuer", "--token-url or --issuer", "TOKEN_URL")
      }
      if (clientId === undefined) return missing("client id", "--client-id", "CLIENT_ID")
      if (clientAuth === "none") return "the client credentials grant needs client authentication, not none"
      return undefined
    case "device_code":
      if (issuer === undefined && (tokenUrl === undefined || deviceAuthorizationUrl === undefined)) {
        return missing("issuer (or token URL and device authorization URL)", "--issuer", "ISSUER")
      }
      return clientId === undefined ? missing("client id", "--client-id", "CLIENT_ID") : undefined
    case "token_exchange":
      if (tokenUrl === undefined && issuer === undefined) {
        return missing("token URL or issuer", "--token-url or --issuer", "TOKEN_URL")
      }
      if (settings.subjectTokenFile === undefined) {
        return missing("subject token file", "--subject-token-file", "SUBJECT_TOKEN_FILE")
      }
      return clientAuth !== "none" && clientId === undefined
        ? missing("client id", "--client-id", "CLIENT_ID")
        : undefined
    case "jwt_bearer":
      if (tokenUrl === undefined) return missing("token URL", "--token-url", "TOKEN_URL")
      if (assertionIssuer === undefined) {
        return missing("assertion issuer (iss)", "--assertion-issuer", "ASSERTION_ISSUER")
      }
      return clientAuth === "none"
        ? undefined
        : "the jwt_bearer grant authenticates with its assertion: use --client-auth none"
  }
}

/**
 * Where the secret is: stdin, then what flags or variables name, then what the profile names, then
 * `TOKENLAYER_CLIENT_SECRET`. A name that is not a variable's may be the secret itself: never repeated.
 */
const secretSource = (
  flags: Flags,
  profile: Profiles.Profile,
  profileName: string,
  configFile: string,
  home: string | undefined
): Effect.Effect<SecretSource, Errors.CliError> =>
  Effect.gen(function*() {
    const override = (key: string, option: string, variable: string) =>
      Effect.map(Profiles.env(variable), (fromEnv): Option.Option<readonly [string, string]> => {
        const flag = flagText(flags, key)
        return flag !== undefined ? Option.some([flag, option]) : Option.map(fromEnv, (v) => [v, variable])
      })
    const fileOverride = yield* override("secretFile", "--secret-file", "TOKENLAYER_SECRET_FILE")
    const envOverride = yield* override("secretEnv", "--secret-env", "TOKENLAYER_SECRET_ENV")
    if (Option.isSome(envOverride) && !Sanitize.isEnvName(envOverride.value[0])) {
      return yield* Effect.fail(Errors.usage(Sanitize.notAnEnvName(envOverride.value[1])))
    }
    if (profile.secretEnv !== undefined && !Sanitize.isEnvName(profile.secretEnv)) {
      return yield* Effect.fail(Errors.config(
        `the secretEnv of profile ${profileName} in ${
          Profiles.quote(configFile)
        } is not the name of an environment variable (letters, digits and _, not starting with a digit; ` +
          `the value is not shown): fix it with tokenlayer profile add ${profileName} --force ...`
      ))
    }
    if (Option.isSome(fileOverride) && Sanitize.tooLong(fileOverride.value[0], Sanitize.maxPath)) {
      const [file, origin] = fileOverride.value
      return yield* Effect.fail(Errors.usage(Sanitize.tooLongText(origin, file, Sanitize.maxPath)))
    }
    if (profile.secretFile !== undefined && Sanitize.tooLong(profile.secretFile, Sanitize.maxPath)) {
      return yield* Effect.fail(Errors.config(
        Sanitize.tooLongText(`the secretFile of profile ${profileName}`, profile.secretFile, Sanitize.maxPath)
      ))
    }
    const file = (name: string, origin: string): SecretSource => ({
      _tag: "File",
      file: path.resolve(Profiles.expandHome(name, home)),
      origin
    })
    if (flags.secretStdin === true) return { _tag: "Stdin" }
    if (Option.isSome(fileOverride)) return file(fileOverride.value[0], fileOverride.value[1])
    if (Option.isSome(envOverride)) return { _tag: "Env", name: envOverride.value[0], origin: envOverride.value[1] }
    if (profile.secretFile !== undefined) return file(profile.secretFile, `profile ${profileName}`)
    if (profile.secretEnv !== undefined) {
      return { _tag: "Env", name: profile.secretEnv, origin: `profile ${profileName}` }
    }
    return Option.isSome(yield* Profiles.env("TOKENLAYER_CLIENT_SECRET"))
      ? { _tag: "Env", name: "TOKENLAYER_CLIENT_SECRET", origin: "default" }
      : { _tag: "None" }
  })
