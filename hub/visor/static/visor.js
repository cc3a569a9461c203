// The visor's only script: the reason form asks for details when the reason is "other".
const reason = document.getElementById("reason");
const note = document.getElementById("note");
if (reason && note) {
  const sync = () => {
    note.required = reason.value === "other";
  };
  reason.addEventListener("change", sync);
  sync();
}
