/** Load the lazily imported mail parser now (the simulator does this before its clock runs, so no module load happens mid-run). */
export async function preloadMailParser (): Promise<void> {
  await import('mailparser')
}
