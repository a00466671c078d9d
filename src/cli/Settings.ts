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
 * Every value is bounded (`Sanitize`: 4 KiB for ids, URLs, scopes, audiences and the JWT claims, 4096
 * for paths, 64 for a duration): a longer flag or `TOKENLAYER_*` variable is bad usage (exit 2), a longer
 * profile setting a configuration error (exit 3), named, never shown. A secret's variable name must be
 * one (`[A-Za-z_][A-Za-z0-9_]*`): what is not may be the secret itself, and is not repeated.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import * as ClientAuth from "../ClientAuth.js"
import * as Grant from "../Grant.js"
import * as JwtBearer from "../internal/jwtBearer.js"
import { displayUrl } from "../internal/tokenEndpoint.js"
import * as TokenStore from "../TokenStore.js"
import * as Errors from "./Errors.js"
import * as Profiles from "./Profiles.js"
import * as Sanitize from "./Sanitize.js"

/**
 * The settings flags can give (every command that talks to a server takes them all).
 *
 * @since 0.1.0
 * @category models
 */
export interface Flags {
  readonly profile: Option.Option<string>
  readonly config: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly grant: Option.Option<Profiles.GrantName>
  readonly issuer: Option.Option<string>
  readonly tokenUrl: Option.Option<string>
  readonly deviceAuthorizationUrl: Option.Option<string>
  readonly revocationUrl: Option.Option<string>
  readonly clientId: Option.Option<string>
  readonly clientAuth: Option.Option<Profiles.ClientAuthName>
  readonly scope: Option.Option<string>
  readonly audience: Option.Option<string>
  readonly buffer: Option.Option<string>
  readonly secretEnv: Option.Option<string>
  readonly secretFile: Option.Option<string>
  readonly secretStdin: boolean
  readonly keyId: Option.Option<string>
  readonly assertionIssuer: Option.Option<string>
  readonly subject: Option.Option<string>
  readonly retries: Option.Option<number>
  readonly verbose: boolean
}

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
  readonly secret: SecretSource
  readonly verbose: boolean
}

/** Used when nothing says how often to retry: a command should not keep a script waiting long. */
export const defaultRetries = 2

// -----------------------------------------------------------------------------
// durations
// -----------------------------------------------------------------------------

const units: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(ms|millis|milliseconds?)$/, 1],
  [/^(s|sec|secs|seconds?)$/, 1000],
  [/^(m|min|mins|minutes?)$/, 60_000],
  [/^(h|hr|hrs|hours?)$/, 3_600_000],
  [/^(d|days?)$/, 86_400_000]
]

/**
 * A duration as people write it: `300` (seconds), `30s`, `5m`, `1h30m`, `5 minutes`, `-10m` (with
 * `allowNegative`). `None` when it is not one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string, allowNegative = false): Option.Option<number> => {
  let rest = text.trim().toLowerCase()
  let sign = 1
  if (allowNegative && rest.startsWith("-")) {
    sign = -1
    rest = rest.slice(1).trim()
  }
  if (rest === "") return Option.none()
  if (/^\d+(\.\d+)?$/.test(rest)) return Option.some(sign * Number(rest) * 1000)
  let total = 0
  const part = /^(\d+(?:\.\d+)?)\s*([a-z]+)\s*/
  while (rest !== "") {
    const match = part.exec(rest)
    if (match === null) return Option.none()
    const factor = units.find(([unit]) => unit.test(match[2]!))
    if (factor === undefined) return Option.none()
    total += Number(match[1]) * factor[1]
    rest = rest.slice(match[0].length)
  }
  return Number.isFinite(total) ? Option.some(sign * total) : Option.none()
}

// -----------------------------------------------------------------------------
// resolution
// -----------------------------------------------------------------------------

/**
 * What is wrong with an endpoint URL, or `undefined` when it is an http(s) URL without credentials. A
 * password in a URL would be kept in the config file and shown by `profile list`, so the text never
 * shows it.
 *
 * @since 0.1.0
 * @category validation
 */
export const urlProblem = (label: string, value: string): string | undefined => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    // a mistyped URL may still hold a password before its "@": not repeated then
    const shown = value.includes("@") ? "(not shown: it has an @)" : Errors.oneLine(value, 100)
    return `the ${label} ${shown} is not an http(s) URL`
  }
  if (url.username !== "" || url.password !== "") {
    return `the ${label} ${
      Errors.oneLine(displayUrl(value), 100)
    } holds credentials: name the secret with --secret-env, --secret-file or --secret-stdin instead`
  }
  return url.protocol === "https:" || url.protocol === "http:"
    ? undefined
    : `the ${label} ${Errors.oneLine(value, 100)} is not an http(s) URL`
}

const canonicalAuth = (name: Profiles.ClientAuthName): ClientAuthMethod =>
  name === "basic" ? "client_secret_basic" : name === "post" ? "client_secret_post" : name

const grants: ReadonlyArray<string> = Profiles.GrantName.literals
const authNames: ReadonlyArray<string> = Profiles.ClientAuthName.literals

/** The state directory: flag, `TOKENLAYER_STATE_DIR`, or the file store's default. */
const stateDirectory = (flag: Option.Option<string>): Effect.Effect<string, Errors.CliError> =>
  Effect.gen(function*() {
    const home = yield* Profiles.home
    const given: Option.Option<readonly [string, string]> = Option.isSome(flag)
      ? Option.some([flag.value, "--state-dir"])
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
 * The settings of a command: flag, else `TOKENLAYER_*` variable, else the profile's setting, else the
 * default; checked, so that a missing or malformed setting is a configuration error with what to do.
 *
 * @since 0.1.0
 * @category resolution
 */
export const resolve = (flags: Flags): Effect.Effect<Settings, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const configFile = yield* Profiles.configPath(flags.config)
    const config = yield* Profiles.load(configFile)
    const selected = yield* Profiles.select(config, configFile, flags.profile)
    const profile: Profiles.Profile = selected?.profile ?? {}
    const profileName = selected?.name ?? "(no profile)"
    const home = yield* Profiles.home

    const where = selected === undefined ? "" : ` (profile ${profileName} in ${Profiles.quote(configFile)})`
    const fail = (text: string) => Effect.fail(Errors.config(text))

    /**
     * `--<option>`, else `TOKENLAYER_<OPTION>`, else the profile's `<option in camel case>`; at most
     * `max` characters (a longer flag or variable is bad usage, named, never shown).
     */
    const pick = (
      flag: Option.Option<string>,
      option: string,
      max: number = Sanitize.maxValue
    ): Effect.Effect<string | undefined, Errors.CliError> =>
      Effect.gen(function*() {
        const variable = `TOKENLAYER_${option.toUpperCase().replace(/-/g, "_")}`
        const field = option.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()) as keyof Profiles.Profile
        const bounded = (value: string, label: string, error: (text: string) => Errors.CliError) =>
          Sanitize.tooLong(value, max)
            ? Effect.fail(error(Sanitize.tooLongText(label, value, max)))
            : Effect.succeed(value)
        if (Option.isSome(flag)) return yield* bounded(flag.value, `--${option}`, Errors.usage)
        const fromEnv = yield* Profiles.env(variable)
        if (Option.isSome(fromEnv)) return yield* bounded(fromEnv.value, variable, Errors.usage)
        const fromProfile = profile[field]
        return typeof fromProfile === "string"
          ? yield* bounded(
            fromProfile,
            `the ${field} of profile ${profileName} in ${Profiles.quote(configFile)}`,
            Errors.config
          )
          : undefined
      })

    const grantText = (yield* pick(flags.grant, "grant")) ?? "client_credentials"
    if (!grants.includes(grantText)) {
      return yield* fail(`unknown grant ${Errors.oneLine(grantText, 60)}: use one of ${grants.join(", ")}`)
    }
    const grant = grantText as Profiles.GrantName

    const checkUrl = (label: string, value: string | undefined) => {
      const problem = value === undefined ? undefined : urlProblem(label, value)
      return problem === undefined ? Effect.succeed(value) : fail(`${problem}${where}`)
    }

    const issuer = yield* Effect.flatMap(pick(flags.issuer, "issuer"), (v) => checkUrl("issuer", v))
    const tokenUrl = yield* Effect.flatMap(
      pick(flags.tokenUrl, "token-url"),
      (v) => checkUrl("token URL", v)
    )
    const deviceAuthorizationUrl = yield* Effect.flatMap(
      pick(flags.deviceAuthorizationUrl, "device-authorization-url"),
      (v) => checkUrl("device authorization URL", v)
    )
    const revocationUrl = yield* Effect.flatMap(
      pick(flags.revocationUrl, "revocation-url"),
      (v) => checkUrl("revocation URL", v)
    )
    const clientId = yield* pick(flags.clientId, "client-id")
    const clientAuthText = yield* pick(flags.clientAuth, "client-auth")
    if (clientAuthText !== undefined && !authNames.includes(clientAuthText)) {
      return yield* fail(
        `unknown client authentication ${Errors.oneLine(clientAuthText, 60)}: use one of ${
          authNames.slice(0, 5).join(", ")
        }`
      )
    }
    const scope = yield* pick(flags.scope, "scope")
    const audience = yield* pick(flags.audience, "audience")
    const bufferText = yield* pick(flags.buffer, "buffer", Sanitize.maxDuration)
    let buffer: Duration.Duration | undefined = undefined
    if (bufferText !== undefined) {
      const millis = parseDuration(bufferText)
      if (Option.isNone(millis)) {
        return yield* fail(
          `the buffer ${Errors.oneLine(bufferText, 60)} is not a duration: write 30s, 5m or 1h${where}`
        )
      }
      buffer = Duration.millis(millis.value)
    }
    let retries = defaultRetries
    if (Option.isSome(flags.retries)) retries = flags.retries.value
    else {
      const fromEnv = yield* Profiles.env("TOKENLAYER_RETRIES")
      if (Option.isSome(fromEnv)) {
        if (!/^\d+$/.test(fromEnv.value) || Number(fromEnv.value) > 10) {
          return yield* fail("TOKENLAYER_RETRIES must be a whole number from 0 to 10")
        }
        retries = Number(fromEnv.value)
      } else if (profile.retries !== undefined) retries = profile.retries
    }
    if (retries < 0 || retries > 10 || !Number.isInteger(retries)) {
      return yield* fail("--retries must be a whole number from 0 to 10")
    }
    const keyId = yield* pick(flags.keyId, "key-id")
    const assertionIssuer = yield* pick(flags.assertionIssuer, "assertion-issuer")
    const subject = yield* pick(flags.subject, "subject")

    // where the secret is: stdin, then what flags or variables name, then what the profile names
    const secretFileOverride: Option.Option<readonly [string, string]> = Option.isSome(flags.secretFile)
      ? Option.some([flags.secretFile.value, "--secret-file"])
      : Option.map(yield* Profiles.env("TOKENLAYER_SECRET_FILE"), (f) => [f, "TOKENLAYER_SECRET_FILE"])
    const secretEnvOverride: Option.Option<readonly [string, string]> = Option.isSome(flags.secretEnv)
      ? Option.some([flags.secretEnv.value, "--secret-env"])
      : Option.map(yield* Profiles.env("TOKENLAYER_SECRET_ENV"), (f) => [f, "TOKENLAYER_SECRET_ENV"])
    // a name that is not a variable's may be the secret itself: it is never repeated
    if (Option.isSome(secretEnvOverride) && !Sanitize.isEnvName(secretEnvOverride.value[0])) {
      return yield* Effect.fail(Errors.usage(Sanitize.notAnEnvName(secretEnvOverride.value[1])))
    }
    if (profile.secretEnv !== undefined && !Sanitize.isEnvName(profile.secretEnv)) {
      return yield* fail(
        `the secretEnv of profile ${profileName} in ${
          Profiles.quote(configFile)
        } is not the name of an environment variable (letters, digits and _, not starting with a digit; ` +
          `the value is not shown): fix it with tokenlayer profile add ${profileName} --force ...`
      )
    }
    if (Option.isSome(secretFileOverride) && Sanitize.tooLong(secretFileOverride.value[0], Sanitize.maxPath)) {
      const [file, origin] = secretFileOverride.value
      return yield* Effect.fail(Errors.usage(Sanitize.tooLongText(origin, file, Sanitize.maxPath)))
    }
    if (profile.secretFile !== undefined && Sanitize.tooLong(profile.secretFile, Sanitize.maxPath)) {
      return yield* fail(
        Sanitize.tooLongText(`the secretFile of profile ${profileName}`, profile.secretFile, Sanitize.maxPath)
      )
    }
    const defaultSecret = yield* Profiles.env("TOKENLAYER_CLIENT_SECRET")
    const secret: SecretSource = flags.secretStdin
      ? { _tag: "Stdin" }
      : Option.isSome(secretFileOverride)
      ? {
        _tag: "File",
        file: path.resolve(Profiles.expandHome(secretFileOverride.value[0], home)),
        origin: secretFileOverride.value[1]
      }
      : Option.isSome(secretEnvOverride)
      ? { _tag: "Env", name: secretEnvOverride.value[0], origin: secretEnvOverride.value[1] }
      : profile.secretFile !== undefined
      ? {
        _tag: "File",
        file: path.resolve(Profiles.expandHome(profile.secretFile, home)),
        origin: `profile ${profileName}`
      }
      : profile.secretEnv !== undefined
      ? { _tag: "Env", name: profile.secretEnv, origin: `profile ${profileName}` }
      : Option.isSome(defaultSecret)
      ? { _tag: "Env", name: "TOKENLAYER_CLIENT_SECRET", origin: "default" }
      : { _tag: "None" }

    const defaultAuth: ClientAuthMethod = grant === "client_credentials"
      ? "client_secret_basic"
      : grant === "device_code" && secret._tag !== "None"
      ? "client_secret_basic"
      : "none"
    const clientAuth = clientAuthText === undefined
      ? defaultAuth
      : canonicalAuth(clientAuthText as Profiles.ClientAuthName)

    // what each grant needs
    const missing = (what: string, flag: string, variable: string) =>
      fail(
        `no ${what}${where}: give ${flag}, set TOKENLAYER_${variable}, or add it to the profile (tokenlayer profile add)`
      )
    switch (grant) {
      case "client_credentials":
        if (tokenUrl === undefined && issuer === undefined) {
          return yield* missing("token URL or issuer", "--token-url or --issuer", "TOKEN_URL")
        }
        if (clientId === undefined) return yield* missing("client id", "--client-id", "CLIENT_ID")
        if (clientAuth === "none") {
          return yield* fail(`the client credentials grant needs client authentication, not none${where}`)
        }
        break
      case "device_code":
        if (issuer === undefined && (tokenUrl === undefined || deviceAuthorizationUrl === undefined)) {
          return yield* missing(
            "issuer (or token URL and device authorization URL)",
            "--issuer",
            "ISSUER"
          )
        }
        if (clientId === undefined) return yield* missing("client id", "--client-id", "CLIENT_ID")
        break
      case "jwt_bearer":
        if (tokenUrl === undefined) return yield* missing("token URL", "--token-url", "TOKEN_URL")
        if (assertionIssuer === undefined) {
          return yield* missing("assertion issuer (iss)", "--assertion-issuer", "ASSERTION_ISSUER")
        }
        if (clientAuth !== "none") {
          return yield* fail(`the jwt_bearer grant authenticates with its assertion: use --client-auth none${where}`)
        }
        break
    }

    return {
      profile: profileName,
      configFile,
      stateDir: yield* stateDirectory(flags.stateDir),
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
      secret,
      verbose: flags.verbose
    } satisfies Settings
  })

// -----------------------------------------------------------------------------
// secrets
// -----------------------------------------------------------------------------

/** Whether the settings need a secret: a client authentication method with one, or a JWT grant's key. */
export const needsSecret = (settings: Settings): boolean =>
  settings.grant === "jwt_bearer" || settings.clientAuth !== "none"

/** The end of a secret read from a file or stdin: one trailing newline (CRLF too) is not part of it. */
const trimNewline = (text: string): string => text.replace(/\r?\n$/, "")

/** The largest secret read from standard input or a file: a PEM key is a few KB. */
const maxSecretBytes = 1024 * 1024

const readStdin: Effect.Effect<string, Errors.CliError> = Effect.async<string, Errors.CliError>((resume) => {
  const chunks: Array<Buffer> = []
  let total = 0
  const stdin = process.stdin
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk
    total += bytes.length
    if (total > maxSecretBytes) {
      // `--secret-stdin < /dev/zero` would read forever
      cleanup()
      return resume(Effect.fail(Errors.config("the secret on standard input is larger than a secret can be (1 MiB)")))
    }
    chunks.push(bytes)
  }
  const onEnd = () => {
    cleanup()
    resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
  }
  const onError = () => {
    cleanup()
    resume(Effect.fail(Errors.config("cannot read the secret from standard input")))
  }
  const cleanup = () => {
    stdin.off("data", onData)
    stdin.off("end", onEnd)
    stdin.off("error", onError)
    stdin.pause()
  }
  stdin.on("data", onData)
  stdin.on("end", onEnd)
  stdin.on("error", onError)
  stdin.resume()
  return Effect.sync(cleanup)
})

/**
 * A secret file: a regular file that group and others cannot access (not checked on Windows).
 *
 * @since 0.1.0
 * @category secrets
 */
export const readSecretFile = (
  file: string,
  origin: string
): Effect.Effect<Redacted.Redacted<string>, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(file).pipe(
      Effect.mapError((error) =>
        Errors.config(
          error._tag === "SystemError" && error.reason === "NotFound"
            ? `the secret file ${
              Profiles.quote(file)
            } (from ${origin}) does not exist: create it (mode 0600) or fix the path`
            : `cannot read the secret file ${Profiles.quote(file)} (from ${origin}): ${Profiles.reasonOf(error)}`
        )
      )
    )
    if (info.type !== "File") {
      return yield* Effect.fail(Errors.config(`the secret file ${Profiles.quote(file)} is not a regular file`))
    }
    if (Number(info.size) > maxSecretBytes) {
      return yield* Effect.fail(
        Errors.config(`the secret file ${Profiles.quote(file)} is larger than a secret can be (1 MiB)`)
      )
    }
    if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
      return yield* Effect.fail(Errors.config(
        `permissions ${(info.mode & 0o777).toString(8).padStart(4, "0")} for the secret file ${
          Profiles.quote(file)
        } are too open: run chmod 600 ${Profiles.quote(file)}`
      ))
    }
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((error) =>
        Errors.config(`cannot read the secret file ${Profiles.quote(file)}: ${Profiles.reasonOf(error)}`)
      )
    )
    const secret = trimNewline(text)
    if (secret === "") return yield* Effect.fail(Errors.config(`the secret file ${Profiles.quote(file)} is empty`))
    return Redacted.make(secret)
  })

/**
 * Reads a secret from standard input (to its end; one trailing newline is not part of it).
 *
 * @since 0.1.0
 * @category secrets
 */
export const readSecretStdin: Effect.Effect<Redacted.Redacted<string>, Errors.CliError> = Effect.flatMap(
  readStdin,
  (text) => {
    const secret = trimNewline(text)
    return secret === ""
      ? Effect.fail(Errors.config("--secret-stdin: standard input was empty"))
      : Effect.succeed(Redacted.make(secret))
  }
)

/**
 * The secret of the settings, from where they say.
 *
 * @since 0.1.0
 * @category secrets
 */
export const readSecret = (
  settings: Settings
): Effect.Effect<Redacted.Redacted<string>, Errors.CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const source = settings.secret
    switch (source._tag) {
      case "Stdin":
        return yield* readSecretStdin
      case "File":
        return yield* readSecretFile(source.file, source.origin)
      case "Env": {
        const value = yield* Profiles.env(source.name)
        if (Option.isNone(value)) {
          return yield* Effect.fail(Errors.config(
            `the environment variable ${source.name} (named by ${source.origin}) that holds the secret is not set: ` +
              `export it, or use --secret-file or --secret-stdin`
          ))
        }
        return Redacted.make(value.value)
      }
      case "None":
        return yield* Effect.fail(Errors.config(
          `profile ${settings.profile} needs a ${settings.grant === "jwt_bearer" ? "signing key" : "client secret"}: ` +
            `name an environment variable (--secret-env), a 0600 file (--secret-file), or pipe it (--secret-stdin)`
        ))
    }
  })

// -----------------------------------------------------------------------------
// grants
// -----------------------------------------------------------------------------

const endpointOptions = (settings: Settings): Grant.TokenEndpointOptions =>
  settings.tokenUrl !== undefined ? { tokenUrl: settings.tokenUrl } : { issuer: settings.issuer! }

const isPem = (secret: Redacted.Redacted<string>): boolean =>
  Redacted.value(secret).trimStart().startsWith("-----BEGIN")

/**
 * The client authentication of the settings, with the secret (or the private key, for private_key_jwt).
 *
 * @since 0.1.0
 * @category grants
 */
export const clientAuth = (
  settings: Settings,
  secret: Option.Option<Redacted.Redacted<string>>
): Effect.Effect<ClientAuth.ClientAuth, Errors.CliError> => {
  if (settings.clientAuth === "none") return Effect.succeed(ClientAuth.none)
  if (Option.isNone(secret)) return Effect.succeed(ClientAuth.none)
  switch (settings.clientAuth) {
    case "client_secret_basic":
      return Effect.succeed(ClientAuth.basic(secret.value))
    case "client_secret_post":
      return Effect.succeed(ClientAuth.post(secret.value))
    case "client_secret_jwt":
      return Effect.succeed(ClientAuth.clientSecretJwt(secret.value))
    case "private_key_jwt":
      return ClientAuth.privateKeyJwt({ privateKey: secret.value }).pipe(
        Effect.mapError((error) =>
          Errors.config(
            `profile ${settings.profile}: the private key cannot sign (${Errors.oneLine(error.reason, 150)})`
          )
        )
      )
  }
}

const jwtBearerOptions = (
  settings: Settings,
  secret: Redacted.Redacted<string>
): Grant.JwtBearerOptions => ({
  tokenUrl: settings.tokenUrl!,
  issuer: settings.assertionIssuer!,
  ...(settings.subject === undefined ? {} : { subject: settings.subject }),
  ...(settings.audience === undefined ? {} : { audience: settings.audience }),
  ...(settings.keyId === undefined ? {} : { keyId: settings.keyId }),
  ...(settings.scope === undefined ? {} : { scope: settings.scope }),
  ...(isPem(secret) ? { privateKey: secret } : { secret })
})

/**
 * The device prompt given to the grant.
 *
 * @since 0.1.0
 * @category models
 */
export type Prompt = (authorization: Grant.DeviceAuthorization) => Effect.Effect<void>

const noPrompt: Prompt = () => Effect.void

/**
 * The grant of the settings, as a value, over the given client. Without a secret (`None`), a grant whose
 * only use is its `key` (no request is made to build it).
 *
 * @since 0.1.0
 * @category grants
 */
export const makeGrant = (
  settings: Settings,
  secret: Option.Option<Redacted.Redacted<string>>,
  client: HttpClient.HttpClient,
  prompt: Prompt = noPrompt
): Effect.Effect<Grant.Service, Errors.CliError> =>
  Effect.gen(function*() {
    const auth = yield* clientAuth(settings, secret)
    switch (settings.grant) {
      case "client_credentials":
        return Grant.makeClientCredentials({
          ...endpointOptions(settings),
          clientId: settings.clientId!,
          clientAuth: auth,
          ...(settings.scope === undefined ? {} : { scope: settings.scope }),
          ...(settings.audience === undefined ? {} : { audience: settings.audience })
        }, client)
      case "device_code": {
        const endpoints: Grant.DeviceEndpointOptions = settings.issuer !== undefined &&
            (settings.tokenUrl === undefined || settings.deviceAuthorizationUrl === undefined)
          ? { issuer: settings.issuer }
          : { tokenUrl: settings.tokenUrl!, deviceAuthorizationUrl: settings.deviceAuthorizationUrl! }
        return Grant.makeDeviceCode({
          ...endpoints,
          clientId: settings.clientId!,
          clientAuth: auth,
          ...(settings.scope === undefined ? {} : { scope: settings.scope }),
          ...(settings.audience === undefined ? {} : { audience: settings.audience }),
          prompt
        }, client)
      }
      case "jwt_bearer": {
        if (Option.isNone(secret)) {
          // the key only: no signer is built
          const options = jwtBearerOptions(settings, Redacted.make("-"))
          return {
            key: Grant.makeKey(JwtBearer.grantType, JwtBearer.keyParts(options)),
            request: () => Effect.dieMessage("a grant built without its key cannot request tokens")
          }
        }
        return yield* Grant.makeJwtBearer(jwtBearerOptions(settings, secret.value), client).pipe(
          Effect.mapError((error) =>
            Errors.config(
              `profile ${settings.profile}: the signing key cannot sign (${Errors.oneLine(error.reason, 150)})`
            )
          )
        )
      }
    }
  })

/**
 * What a profile's settings say, for `status` and `profile list` (never a secret).
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeEndpoint = (settings: Settings): string => settings.tokenUrl ?? settings.issuer ?? "(no token URL)"
