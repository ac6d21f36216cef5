/** fast-check settings shared by every property test: the catalogue package's (FC_SEED, FC_PATH, FC_RUNS). */
export { fcParams } from '../../../catalogue/test/helpers/fc.ts'
