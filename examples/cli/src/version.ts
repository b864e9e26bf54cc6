/** The version this CLI reports (`calicoctl version`, ipam check reports): the SDK's version. */
export const CLI_VERSION = 'v0.1.0';
/** Shown as `Git commit:`. */
export const CLI_GIT_COMMIT = 'libcalico-ts';
