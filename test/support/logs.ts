import { Effect, Logger, LogLevel } from "effect"

/**
 * Runs `effect` with every log line (all levels, annotations and causes included) captured as the
 * logfmt text a real logger would print.
 */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<string>], E, R> =>
  Effect.suspend(() => {
    const lines: Array<string> = []
    const logger = Logger.make((options) => {
      lines.push(Logger.logfmtLogger.log(options))
    })
    return effect.pipe(
      Effect.map((a) => [a, lines] as const),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })
