// Relay destinations of seed 002 "Stream Relays", with their default RTMP ingest URLs. `portal`
// (another Portal instance) and `custom` have none: the owner gives the URL.

export const RELAY_PLATFORMS = [
  { id: 'twitch', name: 'Twitch', default_url: 'rtmp://live.twitch.tv/app' },
  { id: 'youtube', name: 'YouTube', default_url: 'rtmp://a.rtmp.youtube.com/live2' },
  { id: 'kick', name: 'Kick', default_url: 'rtmps://fa723fc1b171.global-contribute.live-video.net/app' },
  { id: 'portal', name: 'Portal', default_url: '' },
  { id: 'custom', name: 'Custom', default_url: '' },
] as const;

export const RELAY_PLATFORM_IDS = RELAY_PLATFORMS.map((p) => p.id) as [
  (typeof RELAY_PLATFORMS)[number]['id'],
  ...(typeof RELAY_PLATFORMS)[number]['id'][],
];

/** Seed 002: "Maximum 10 relay destinations per stream". */
export const MAX_RELAYS_PER_STREAM = 10;

export const RELAY_STATES = ['idle', 'starting', 'running', 'retrying'] as const;
