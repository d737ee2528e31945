export { LayerStore, type StoredLayer, templateKey } from './layer-store.js';
export { mountOverlay, overlayMountPoints, overlaySource, unmountOverlay } from './overlay-mount.js';
export { makeOwnLayer } from './own-layer.js';
export { type RootfsLayersPaths, RootfsLayersService } from './rootfs-layers-service.js';
