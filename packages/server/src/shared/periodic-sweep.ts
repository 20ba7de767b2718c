/**
 * A sweep that runs every `intervalMs` while started, one run at a time: a run asked for while one
 * is going joins it, and `stop` waits for the one in flight. Failures go to `failed`; the next
 * tick tries again. The timer does not keep the process alive.
 */
export class PeriodicSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly failed: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** Runs the sweep now, or joins the run in flight. */
  run(): Promise<void> {
    this.running ??= this.work()
      .catch(this.failed)
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
