// Draws every chart of the page with vega-embed, then marks the body: data-rendered holds
// the number of charts drawn (or "failed"), so that a test or a printer knows when it is done.
(function () {
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  var keys = Object.keys(specs);
  Promise.all(keys.map(function (key) {
    return vegaEmbed(document.getElementById("chart-" + key), specs[key],
                     {renderer: "svg", actions: false});
  })).then(function () {
    document.body.setAttribute("data-rendered", String(keys.length));
  }).catch(function (error) {
    document.body.setAttribute("data-rendered", "failed");
    console.error(error);
  });
})();
