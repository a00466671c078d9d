/** Types of scripts/build.mjs, for the bench and the tests (TypeScript does not read the .mjs). */

/** Bundles src/cli/main.ts into `outdir`; answers the path of the executable (`<outdir>/main.cjs`). */
export declare const buildCli: (outdir: string) => Promise<string>

/** The whole package build (dist/esm, dist/cjs, dist/cli) into `outDir`. */
export declare const build: (outDir: string) => Promise<void>
