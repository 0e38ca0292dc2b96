// Components (onset, progression, laterality) describe a symptom that is present: they are
// shown only while its yes/no question is answered "yes". Without JavaScript they stay visible.
(function () {
  "use strict";
  function sync(fieldset) {
    var box = fieldset.querySelector(".components");
    if (!box || fieldset.getAttribute("data-kind") !== "boolean") { return; }
    var name = fieldset.getAttribute("data-name");
    var yes = Array.prototype.some.call(fieldset.querySelectorAll("input[type=radio]"), function (input) {
      return input.name === name && input.value === "true" && input.checked;
    });
    box.hidden = !yes;
  }
  document.querySelectorAll("fieldset.question").forEach(function (fs) {
    sync(fs);
    fs.addEventListener("change", function () { sync(fs); });
  });
  document.body.setAttribute("data-ready", "true");
}());
