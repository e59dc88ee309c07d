// A link to report.html#<scenario id> opens that scenario even when it is collapsed (passed ones are).
function openLinkedScenario() {
  var id = decodeURIComponent(location.hash.slice(1));
  var target = id ? document.getElementById(id) : null;
  var body = target ? target.querySelector("details.scenario-body") : null;
  if (!body) return;
  body.open = true;
  target.scrollIntoView();
}
window.addEventListener("hashchange", openLinkedScenario);
window.addEventListener("DOMContentLoaded", openLinkedScenario);
