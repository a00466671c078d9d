/**
 * Where the secret of a command comes from, and reading it: standard input (`--secret-stdin`), a 0600
 * file, or an environment variable, each bounded (1 MiB).
 *
 * Secrets are never command-line arguments (they would show in `ps`). A secret file must be a regular
 * file that group and others cannot access (0600), as ssh wants of a private key.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Errors from "./Errors.js"
import * as Profiles from "./Profiles.js"
import type { Settings } from "./Settings.js"

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
