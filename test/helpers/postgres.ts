/** A real PostgreSQL server for tests: the simulator's (the benchmark starts one the same way). */
export { startPostgres, type Postgres } from '../../sim/src/net/postgres.ts'
