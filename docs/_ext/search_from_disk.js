/* Search excerpts when the course site is opened from disk (file://).
 *
 * Sphinx's search page (searchtools.js) shows each result's title at once, then fetch()es the
 * result's page to cut an excerpt from it.  A page opened from disk has the origin "null", and
 * Chromium refuses every fetch of a file:// address from it ("Cross origin requests are only
 * supported for protocol schemes: ... http, https"), so the results were titles only.  The build
 * (course_site.py) writes each page's article text into window.COURSE_PAGE_TEXT, above this
 * script, and this answers the search page's fetch of a page from it, on file:// only: served
 * over http the pages are fetched as usual.
 */
(() => {
  if (window.location.protocol !== "file:") return;
  const pageText = window.COURSE_PAGE_TEXT || {};
  const originalFetch = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const options_ = window.DOCUMENTATION_OPTIONS || {};
    const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href);
    const url = new URL(resource instanceof Request ? resource.url : String(resource), window.location.href);
    const suffix = options_.FILE_SUFFIX || ".html";
    if (url.protocol === "file:" && url.href.startsWith(root.href) && url.pathname.endsWith(suffix)) {
      const docname = decodeURIComponent(url.href.slice(root.href.length, url.href.length - suffix.length));
      if (Object.prototype.hasOwnProperty.call(pageText, docname)) {
        return Promise.resolve(
          new Response(pageText[docname], { headers: { "Content-Type": "text/html; charset=utf-8" } }),
        );
      }
    }
    return originalFetch(resource, options);
  };
})();
