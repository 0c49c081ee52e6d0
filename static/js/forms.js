// A refused form comes back with its fields marked invalid: put the keyboard focus on the first
// one, so a keyboard or screen reader user lands on what needs fixing, not at the top of the page.
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector("form [aria-invalid='true']");
  if (invalid) {
    invalid.focus();
  }
});
