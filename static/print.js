// Print buttons: any button marked data-print prints the page. Kept out of the pages so
// that the Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) {
    window.print();
  }
});
