// The console's little behaviour, kept out of the pages so the Content-Security-Policy can
// forbid inline script.
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches("[data-submit-on-change]")) {
    target.form.submit();
  } else if (target.matches("select.suggestion") && target.form && target.form.text) {
    target.form.text.value = target.value;
  }
});
