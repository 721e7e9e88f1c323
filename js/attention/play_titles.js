// The explorer's play row is an ipywidgets Play (class attnwidgets-play): its three buttons
// are icons only. The view gives them a title and an aria-label once they are in the page
// (they render beside the view, maybe after it: looked for a few times, then left alone).

export const PLAY_TITLES = [
  "play / pause: step through the layers",
  "stop: back to the first layer",
  "loop: start again after the last layer",
];
const TRIES = 40;
const EVERY_MS = 250;

/** Set the titles of the Play buttons in the explorer around el; returns a dispose function. */
export function titlePlayButtons(el) {
  let tries = 0;
  let timer = null;
  function attempt() {
    timer = null;
    const explorer = el.closest?.(".attnwidgets-explorer");
    const buttons = explorer ? explorer.querySelectorAll(".attnwidgets-play button") : [];
    buttons.forEach((button, i) => {
      if (!PLAY_TITLES[i]) return;
      button.title = PLAY_TITLES[i];
      button.setAttribute("aria-label", PLAY_TITLES[i]);
    });
    if (buttons.length < PLAY_TITLES.length && ++tries < TRIES) {
      timer = setTimeout(attempt, EVERY_MS);
    }
  }
  attempt();
  return () => {
    if (timer !== null) clearTimeout(timer);
  };
}
