/* the demo site's script: it only says when the page was loaded */

document.body.appendChild(document.createElement('p')).textContent =
    'Loaded at ' + new Date().toLocaleTimeString() + '.';
