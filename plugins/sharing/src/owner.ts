/** The owner name sharing declares rootfs layers and resources under. */
export const OWNER = 'sharing';
