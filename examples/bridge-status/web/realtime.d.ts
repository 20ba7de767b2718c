// Types of the seed's realtime.js, for the SDK page (sdk/main.ts), which shows statuses the same way.

export class BridgeUIUpdater {
  constructor(indicator: HTMLElement);
  showConnection(connection: { state: string; text: string }): void;
  static showStatus(element: HTMLElement, status: string): void;
}
