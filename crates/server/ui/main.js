// @ts-check
// Lightbox web UI: plain JavaScript modules, no framework, no HTML strings. Every value from the
// server reaches the page through textContent or non-URL attributes (see lib/dom.js).
//
// This module wires the state modules to the views (every subscription is here, in the order
// the views must hear of a change), then starts the page.
import './lib/errors.js';
import { jobEvents, connectEvents, reconnectEvents, resyncEvents, storeEvents } from './events.js';
import { $ } from './lib/dom.js';
import { getSetting } from './lib/settings.js';
import { browserChanges, debugState } from './state/browser.js';
import { listViewChanges, sizeChanges, themeChanges } from './state/display.js';
import { importChanges } from './state/import.js';
import { allJobs, jobChanges, jobLogs, jobsForgotten, onJobEvent, seedJobs, setJobSubject } from './state/jobs.js';
import { jobSubject } from './state/targets.js';
import { loadNodes, nodeChanges } from './state/nodes.js';
import { loadStatus, setStoreTotals, statusChanges } from './state/status.js';
import { applyListView, applySize, applyTheme, initAppearance } from './views/appearance.js';
import { initDialogs } from './views/dialogs.js';
import * as importView from './views/import.js';
import * as jobDetails from './views/jobdetails.js';
import * as jobsView from './views/jobs.js';
import { closeMenu, initMenu, menuOpen, outsideMenu } from './views/menu.js';
import { initNodeForm } from './views/nodeform.js';
import { initNodes, renderNodes, renderThisServer } from './views/nodes.js';
import { currentPage, initPages, pageInHash, pageShown, showPage } from './views/pages.js';
import { initRoutes, loadRoutes } from './views/routes.js';
import { initAnonymize } from './views/browser/anonymize.js';
import { initModify } from './views/browser/modify.js';
import { onStatusChange } from './views/topbar.js';
import {
  closeModalities, focusSearch, initFilters, modalitiesOpen, outsideModalities, renderSources, updateModalityLabel,
} from './views/browser/filters.js';
import { initList, maybeLoadMore, resetList } from './views/browser/list.js';
import { initMetadata } from './views/browser/metadata.js';
import { initPreview } from './views/browser/preview.js';
import * as refresh from './views/browser/refresh.js';
import { redrawRemote } from './views/browser/remote.js';
import * as selectionBar from './views/browser/selection.js';
import * as studies from './views/browser/studies.js';
import * as tiles from './views/browser/tiles.js';

// ---------------------------------------------------------------- state → views

pageShown.subscribe((page) => {
  if (page === 'jobs' && !jobsView.jobsLoaded()) jobsView.loadJobs();
  if (page === 'nodes') loadNodes();
  if (page === 'routes') loadRoutes();
  if (page !== 'jobs') jobDetails.closeJobDetails();
  if (page === 'browser') maybeLoadMore();
  closeMenu(false);
});

jobChanges.subscribe((rec) => jobsView.onJobChange(rec));
jobChanges.subscribe((rec) => refresh.onJobChange(rec));
jobChanges.subscribe((rec) => importView.onJobChange(rec));
jobChanges.subscribe((rec) => jobDetails.onJobChange(rec));
jobLogs.subscribe(jobDetails.onJobLog);
jobsForgotten.subscribe(tiles.updateAllTilesSoon);
jobsForgotten.subscribe(jobsView.updateBadge);

browserChanges.subscribe(tiles.onBrowserChange);
browserChanges.subscribe(studies.onBrowserChange);
browserChanges.subscribe(selectionBar.onBrowserChange);

nodeChanges.subscribe((what) => { if (what === 'list') renderSources(); });
nodeChanges.subscribe(() => renderNodes());
nodeChanges.subscribe((what) => { if (what === 'list') studies.redrawStudies(); });

statusChanges.subscribe(onStatusChange);
statusChanges.subscribe((change) => { if (change.type === 'loaded') renderThisServer(); });

sizeChanges.subscribe(applySize);
sizeChanges.subscribe(tiles.updateAllTiles);
themeChanges.subscribe(applyTheme);
listViewChanges.subscribe(applyListView);
listViewChanges.subscribe(() => { resetList(); redrawRemote(); });

importChanges.subscribe(importView.onImportChange);

// ---------------------------------------------------------------- server events → state

jobEvents.subscribe(onJobEvent);
storeEvents.subscribe(setStoreTotals);
storeEvents.subscribe(() => refresh.scheduleListRefresh());
resyncEvents.subscribe(() => { seedJobs(); if (jobsView.jobsLoaded()) jobsView.loadJobs(); });
reconnectEvents.subscribe(() => { seedJobs(); loadStatus(); refresh.scheduleListRefresh(); });

// ---------------------------------------------------------------- page-wide keys and clicks

document.addEventListener('mousedown', (e) => {
  if (menuOpen() && outsideMenu(e.target)) closeMenu(false);
  if (modalitiesOpen() && outsideModalities(e.target)) closeModalities(false);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    if (menuOpen()) { e.preventDefault(); closeMenu(true); }
    else if (modalitiesOpen()) { e.preventDefault(); closeModalities(true); }
  } else if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target) && currentPage() === 'browser') {
    e.preventDefault();
    focusSearch();
  }
});

/**
 * Whether a key press goes into a field (where '/' is a character, not a shortcut).
 * @param {EventTarget | null} t
 */
function typing(t) {
  const el = /** @type {HTMLElement | null} */ (t);
  return !!el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) || !!el.closest('dialog[open]'));
}

// ---------------------------------------------------------------- start

initPages();
initMenu();
initDialogs();
initAppearance();
initFilters();
setJobSubject(jobSubject);
initList();
selectionBar.initSelection();
initMetadata();
initPreview();
jobsView.initJobs();
jobDetails.initJobDetails();
initNodes();
initNodeForm();
initRoutes();
initModify();
initAnonymize();
importView.initImport();

applyTheme();
applySize();
applyListView();
/** @type {HTMLInputElement} */ ($('#source-local')).checked = getSetting('sourceLocal', /** @type {boolean} */ (true)) !== false;
updateModalityLabel();
showPage(pageInHash() || 'browser', false);
loadStatus();
loadNodes();
seedJobs();
connectEvents();
resetList();

// For debugging from the console.
window.lightbox = { browser: debugState, jobs: allJobs, reload: resetList };
