/** This plugin's version; kept equal to package.json's (a unit test checks). */
export const version = '0.1.0';
