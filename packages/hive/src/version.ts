/** The version reported in `/health` and `HiveInfo`. */
export const VERSION = '0.1.0'
